//! The OpenAI-compatible routes driven with `oneshot` against provider targets on the
//! loopback mock: the answer objects, the `data:` chunk sequence, batch embeddings in
//! both encodings, per-token model lists, OpenAI-shaped errors for every refusal, and the
//! admission they share with the first-party routes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{json, Value};
use tower::ServiceExt;

mod common;
use common::*;

fn chat(target: &str, extra: &Value) -> Value {
    let mut body = json!({"model": target, "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                          "max_tokens": 8});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

fn get(path: &str, token: &str) -> Request<Body> {
    Request::get(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// The JSON of every `data:` line but `[DONE]`, and whether `[DONE]` ended the stream.
fn data_chunks(body: &[u8]) -> (Vec<Value>, bool) {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let datas: Vec<&str> =
        text.split("\n\n").filter(|f| !f.is_empty()).map(|f| f.strip_prefix("data: ").unwrap()).collect();
    let done = datas.last() == Some(&"[DONE]");
    (datas.iter().filter(|d| **d != "[DONE]").map(|d| serde_json::from_str(d).unwrap()).collect(), done)
}

#[tokio::test]
async fn chat_completions_answer_a_chat_completion_object() {
    let (public, _, _p) = loaded(None).await;
    let mut req = post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({"n": 1, "user": "u-1"})));
    req.headers_mut().insert("x-request-id", "oa-1".parse().unwrap());
    let (status, headers, body) = call(&public, req).await;
    assert_eq!(
        (status, &headers["x-request-id"]),
        (StatusCode::OK, &"oa-1".parse::<axum::http::HeaderValue>().unwrap())
    );
    let v = json_of(&body);
    assert_eq!(
        (v["id"].as_str(), v["object"].as_str(), v["model"].as_str()),
        (Some("chatcmpl-oa-1"), Some("chat.completion"), Some("mock"))
    );
    assert!(v["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(
        v["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "Hello", "refusal": null}, "logprobs": null, "finish_reason": "stop"}])
    );
    assert_eq!(v["usage"], json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}));
}

#[tokio::test]
async fn streamed_chat_is_a_chunk_sequence_ending_in_done() {
    let (public, _, _p) = loaded(None).await;
    let body = chat("mock", &json!({"stream": true, "stream_options": {"include_usage": true}}));
    let (status, headers, bytes) = call(&public, post_json("/v1/chat/completions", Some(TOKEN_A), &body)).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "text/event-stream"));
    let (chunks, done) = data_chunks(&bytes);
    assert!(done, "ends with data: [DONE]");
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(deltas[..3], [&json!({"role": "assistant", "content": "Hel"}), &json!({"content": "lo"}), &json!({})]);
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[3]["choices"], json!([]));
    assert_eq!(chunks[3]["usage"], json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}));
    assert_eq!(chunks.len(), 4);
    for c in &chunks {
        assert_eq!((c["object"].as_str(), c["model"].as_str()), (Some("chat.completion.chunk"), Some("mock")));
        assert_eq!(c["id"], chunks[0]["id"]);
    }
    // Without include_usage there is no choices-less chunk to trip `chunk.choices[0]`.
    let body = chat("mock", &json!({"stream": true}));
    let (_, _, bytes) = call(&public, post_json("/v1/chat/completions", Some(TOKEN_A), &body)).await;
    let (chunks, done) = data_chunks(&bytes);
    assert!(done && chunks.len() == 3 && chunks.iter().all(|c| c["choices"].as_array().unwrap().len() == 1));
}

#[tokio::test]
async fn completions_answer_a_text_completion() {
    let (public, _, _p) = loaded(None).await;
    let body = json!({"model": "mock", "prompt": "one two three", "max_tokens": 2, "echo": false});
    let (status, _, bytes) = call(&public, post_json("/v1/completions", Some(TOKEN_A), &body)).await;
    assert_eq!(status, StatusCode::OK);
    let v = json_of(&bytes);
    assert_eq!((v["object"].as_str(), v["id"].as_str().unwrap().starts_with("cmpl-")), (Some("text_completion"), true));
    assert_eq!(v["choices"], json!([{"index": 0, "text": "3 words", "logprobs": null, "finish_reason": "length"}]));
    assert_eq!(v["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn embeddings_keep_input_order_in_both_encodings() {
    let (public, _, _p) = loaded(None).await;
    let body = json!({"model": "mock", "input": ["a", "abcd"]});
    let (status, _, bytes) = call(&public, post_json("/v1/embeddings", Some(TOKEN_A), &body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let v = json_of(&bytes);
    assert_eq!(
        v,
        json!({"object": "list", "model": "mock", "usage": {"prompt_tokens": 6, "total_tokens": 6}, "data": [
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.5, -0.25]},
            {"object": "embedding", "index": 1, "embedding": [4.0, 0.5, -0.25]}]})
    );
    let body = json!({"model": "mock", "input": "abcd", "encoding_format": "base64"});
    let (_, _, bytes) = call(&public, post_json("/v1/embeddings", Some(TOKEN_A), &body)).await;
    let encoded = json_of(&bytes)["data"][0]["embedding"].as_str().unwrap().to_string();
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let floats: Vec<f32> = raw.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(floats, [4.0, 0.5, -0.25]);
}

#[tokio::test]
async fn models_lists_what_the_token_may_use() {
    let (public, _, _p) = loaded(None).await;
    let ids = |v: Value| {
        v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (status, _, a) = call(&public, get("/v1/models", TOKEN_A)).await;
    assert_eq!(
        (status, ids(json_of(&a))),
        (StatusCode::OK, vec!["mock".to_string(), "stall".into(), "fail".into(), "busy".into()])
    );
    let (_, _, b) = call(&public, get("/v1/models", TOKEN_B)).await;
    assert_eq!(ids(json_of(&b)), ["other"]);
    let (status, _, one) = call(&public, get("/v1/models/mock", TOKEN_A)).await;
    assert_eq!(
        (status, json_of(&one)),
        (StatusCode::OK, json!({"id": "mock", "object": "model", "created": 0, "owned_by": "sipp"}))
    );
    let (status, _, hidden) = call(&public, get("/v1/models/other", TOKEN_A)).await;
    assert_eq!((status, json_of(&hidden)["error"]["type"].as_str()), (StatusCode::NOT_FOUND, Some("not_found_error")));
    let (status, _, _) = call(&public, Request::get("/v1/models").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_refusal_is_an_openai_error_object() {
    let (public, _, _p) = loaded(None).await;
    let big = json!({"model": "mock", "prompt": "x".repeat(4096)});
    // (request, status, OpenAI error type, param, words in the message)
    type Case = (Request<Body>, u16, &'static str, Option<&'static str>, &'static str);
    let cases: Vec<Case> = vec![
        (
            post_json("/v1/chat/completions", None, &chat("mock", &json!({}))),
            401,
            "authentication_error",
            None,
            "bearer",
        ),
        (
            post_json("/v1/chat/completions", Some(TOKEN_B), &chat("mock", &json!({}))),
            403,
            "permission_error",
            None,
            "not allowed",
        ),
        (
            post_json("/v1/chat/completions", Some(TOKEN_A), &chat("nowhere", &json!({}))),
            404,
            "not_found_error",
            None,
            "not configured",
        ),
        (
            post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({"n": 2}))),
            400,
            "invalid_request_error",
            Some("n"),
            "unsupported by this gateway: n",
        ),
        (
            post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({"tools": [], "logit_bias": {}}))),
            400,
            "invalid_request_error",
            Some("logit_bias"),
            "logit_bias, tools",
        ),
        (
            post_json(
                "/v1/chat/completions",
                Some(TOKEN_A),
                &json!({"model": "mock", "messages": [{"role": "tool", "content": "x"}]}),
            ),
            400,
            "invalid_request_error",
            Some("messages"),
            "role `tool`",
        ),
        (
            post_json(
                "/v1/chat/completions",
                Some(TOKEN_A),
                &json!({"model": "mock", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            ),
            400,
            "invalid_request_error",
            Some("messages"),
            "`image_url` is not supported",
        ),
        (
            post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({"temperature": -1}))),
            400,
            "invalid_request_error",
            None,
            "temperature",
        ),
        (
            post_json(
                "/v1/chat/completions",
                Some(TOKEN_A),
                &chat("mock", &json!({"stream_options": {"include_usage": true}})),
            ),
            400,
            "invalid_request_error",
            Some("stream_options"),
            "stream: true",
        ),
        (
            post_json("/v1/completions", Some(TOKEN_A), &json!({"model": "mock", "prompt": [1, 2, 3]})),
            400,
            "invalid_request_error",
            Some("prompt"),
            "token-id",
        ),
        (
            post_json("/v1/completions", Some(TOKEN_A), &json!({"model": "mock", "prompt": ["a", "b"]})),
            400,
            "invalid_request_error",
            Some("prompt"),
            "one string",
        ),
        (post_json("/v1/completions", Some(TOKEN_A), &big), 413, "invalid_request_error", None, "max_request_bytes"),
        (
            post_json("/v1/embeddings", Some(TOKEN_A), &json!({"model": "mock", "input": "x", "dimensions": 2})),
            400,
            "invalid_request_error",
            Some("dimensions"),
            "dimensions",
        ),
        (
            post_json(
                "/v1/embeddings",
                Some(TOKEN_A),
                &json!({"model": "mock", "input": "x", "encoding_format": "int8"}),
            ),
            400,
            "invalid_request_error",
            Some("encoding_format"),
            "float or base64",
        ),
        (
            // An upstream's 500 is a bad gateway here (502 `upstream_error`).
            post_json("/v1/chat/completions", Some(TOKEN_A), &chat("fail", &json!({}))),
            502,
            "server_error",
            None,
            "upstream exploded",
        ),
    ];
    for (req, status, kind, param, says) in cases {
        let (s, headers, body) = call(&public, req).await;
        let v = json_of(&body);
        let e = &v["error"];
        assert_eq!((s.as_u16(), e["type"].as_str(), e["param"].as_str()), (status, Some(kind), param), "{v}");
        assert!(e["message"].as_str().unwrap().contains(says) && e["code"].is_string(), "{v}");
        assert_eq!(headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn both_profiles_share_one_admission_limit() {
    let (public, _, _p) = loaded(Some(1)).await;
    let body = chat("stall", &json!({"stream": true}));
    let open = public.clone().oneshot(post_json("/v1/chat/completions", Some(TOKEN_A), &body)).await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let (s, headers, _) = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await;
    assert_eq!((s.as_u16(), headers.contains_key("retry-after")), (429, true));
    let (s, _, body) = call(&public, post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({})))).await;
    assert_eq!((s.as_u16(), json_of(&body)["error"]["type"].as_str()), (429, Some("rate_limit_error")));
    drop(open);
    let (s, _, _) = call(&public, post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({})))).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn an_empty_prefix_turns_the_routes_off() {
    let upstream = mock_upstream().await;
    let mut config = config(&upstream, None);
    config.routes.openai = String::new();
    let prepared = sipp_gateway_server::serve::prepare(config, &env).unwrap();
    let public = sipp_gateway_server::app::public_app(std::sync::Arc::clone(&prepared.state));
    let (s, _, _) = call(&public, post_json("/v1/chat/completions", Some(TOKEN_A), &chat("mock", &json!({})))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
