//! What the router tests share: a loopback mock of an OpenAI-compatible upstream, a
//! gateway configuration with provider targets on it, and `oneshot` helpers.
#![allow(dead_code)] // each test file uses a different subset

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sipp_gateway_server::app::{management_app, public_app};
use sipp_gateway_server::config::GatewayConfig;
use sipp_gateway_server::serve::{load_targets, prepare, Prepared};
use std::sync::Arc;
use tower::ServiceExt;

pub const TOKEN_A: &str = "token-a-0123456789";
pub const TOKEN_B: &str = "token-b-0123456789";

/// An OpenAI-compatible upstream: model `stall` streams one chunk and then holds the
/// stream open; `fail` answers 500; `busy` 429 (rate limited); anything else answers `Hello`, followed by the
/// `x-trace-id` header when the request carried one.
pub async fn mock_upstream() -> String {
    async fn chat(headers: axum::http::HeaderMap, Json(body): Json<Value>) -> Response {
        let model = body["model"].as_str().unwrap_or_default().to_string();
        if model == "fail" || model == "busy" {
            let (status, err) = if model == "fail" {
                (500, json!({"error": {"message": "upstream exploded", "type": "server_error"}}))
            } else {
                (429, json!({"error": {"message": "slow down", "type": "rate_limit_exceeded"}}))
            };
            return Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(err.to_string()))
                .unwrap();
        }
        if body["stream"] == json!(true) {
            let frames = vec![
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
                "data: [DONE]\n\n",
            ];
            let stall = model == "stall";
            let stream = futures_util::stream::iter(frames.into_iter().take(if stall { 1 } else { 4 }))
                .map(|f| Ok::<_, std::convert::Infallible>(Bytes::from(f)))
                .chain(futures_util::stream::once(async move {
                    if stall {
                        std::future::pending::<()>().await;
                    }
                    Ok(Bytes::new())
                }));
            return Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap();
        }
        let content = match headers.get("x-trace-id").and_then(|v| v.to_str().ok()) {
            Some(id) => format!("Hello {id}"),
            None => "Hello".into(),
        };
        let answer = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
        Json(answer).into_response()
    }
    /// `/completions` answers the prompt's length in words; `/embeddings` a vector
    /// derived from the input, so answers show which input they belong to.
    async fn completion(Json(body): Json<Value>) -> Json<Value> {
        let words = body["prompt"].as_str().unwrap_or_default().split_whitespace().count();
        Json(json!({"choices": [{"index": 0, "text": format!("{words} words"), "finish_reason": "length"}],
                    "usage": {"prompt_tokens": words, "completion_tokens": 2, "total_tokens": words + 2}}))
    }
    async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
        let input = body["input"].as_str().unwrap_or_default();
        #[allow(clippy::cast_precision_loss)]
        let v = [input.len() as f32, 0.5, -0.25];
        Json(json!({"data": [{"index": 0, "embedding": v}], "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
    }
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            Router::new()
                .route("/v1/chat/completions", post(chat))
                .route("/v1/completions", post(completion))
                .route("/v1/embeddings", post(embeddings)),
        )
        .await
    });
    format!("http://{addr}/v1")
}

pub fn config(upstream: &str, max_concurrent: Option<u32>) -> GatewayConfig {
    let limit = max_concurrent.map_or(String::new(), |n| format!("max_concurrent_requests = {n}"));
    let text = format!(
        r#"
public_bind = "127.0.0.1:0"
management_bind = "127.0.0.1:1"
max_request_bytes = 2048
{limit}
admin_password_env = "ADMIN_PASSWORD"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "TOKEN_A"
caller = "app-a"
targets = ["mock", "stall", "fail", "busy"]
[[tokens]]
env = "TOKEN_B"
caller = "app-b"
targets = ["other"]
[[targets]]
name = "mock"
type = "openai_compatible"
model = "served"
base_url = "{upstream}"
token_env = "UPSTREAM_TOKEN"
[[targets]]
name = "other"
type = "openai_compatible"
model = "served"
base_url = "{upstream}"
token_env = "UPSTREAM_TOKEN"
[[targets]]
name = "stall"
type = "openai_compatible"
model = "stall"
base_url = "{upstream}"
token_env = "UPSTREAM_TOKEN"
[[targets]]
name = "fail"
type = "openai_compatible"
model = "fail"
base_url = "{upstream}"
token_env = "UPSTREAM_TOKEN"
[[targets]]
name = "busy"
type = "openai_compatible"
model = "busy"
base_url = "{upstream}"
token_env = "UPSTREAM_TOKEN"
"#
    );
    GatewayConfig::parse(&text).unwrap()
}

pub fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN_A" => Some(TOKEN_A.into()),
        "TOKEN_B" => Some(TOKEN_B.into()),
        "ADMIN_PASSWORD" => Some("admin-secret".into()),
        "UPSTREAM_TOKEN" => Some("upstream-key-000".into()),
        _ => None,
    }
}

pub async fn gateway(max_concurrent: Option<u32>) -> (Router, Router, Prepared) {
    let upstream = mock_upstream().await;
    let prepared = prepare(config(&upstream, max_concurrent), &env).unwrap();
    (public_app(Arc::clone(&prepared.state)), management_app(Arc::clone(&prepared.state)), prepared)
}

pub async fn loaded(max_concurrent: Option<u32>) -> (Router, Router, Prepared) {
    let (public, management, mut prepared) = gateway(max_concurrent).await;
    load_targets(&prepared.state, std::mem::take(&mut prepared.descriptors)).await.unwrap();
    (public, management, prepared)
}

pub fn post_json(path: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut r = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(Body::from(body.to_string())).unwrap()
}

pub async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, to_bytes(body, usize::MAX).await.unwrap().to_vec())
}

pub fn chat_body(target: &str, stream: bool) -> Value {
    json!({"model": target, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "stream": stream})
}
