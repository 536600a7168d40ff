//! The canonical custom gateway (spec: Gateway Architecture): create a `SippClient`, add
//! endpoints with `.add`, define your own axum routes, and in each one decode the body,
//! select an endpoint, call `client.*`, encode the answer. No auth or limits here: those
//! are your application's policy (`apps/gateway-server` is the first-party one).
//!
//!     cargo run --release -p sipp-example-gateway -- [MODEL.gguf] [127.0.0.1:8080]
//!     curl -sS 127.0.0.1:8080/v1/query -d '{"model": "local", "prompt": "The sky is", "max_tokens": 8}'

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use sipp::{EndpointRef, SippClient, SippTextRun};
use sipp_gateway::{
    ErrorTranslator, GatewayCodec, GatewayHttpError, ProtocolCodec, SippErrorTranslator, SseEncoder, StatusCode,
    SSE_CONTENT_TYPE,
};
use std::collections::HashMap;
use std::sync::Arc;

struct App {
    client: SippClient,
    endpoints: HashMap<String, EndpointRef>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args.next().map_or_else(sipp_models::default_model, |p| Ok(p.into()))?;
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let client = SippClient::new();
    let local = client
        .add("local", sipp::EndpointDescriptor::local(model, sipp::engine::NativeRuntimeConfig::default()))
        .await?;
    let app = Arc::new(App { client, endpoints: HashMap::from([("local".to_string(), local)]) });
    let router = Router::new()
        .route("/v1/query", post(query))
        .route("/v1/chat", post(chat))
        .route("/v1/embed", post(embed))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("serving target `local` on http://{bind}");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    axum::serve(listener, router).with_graceful_shutdown(ctrl_c).await?;
    Ok(())
}

fn select(app: &App, target: &str) -> Result<EndpointRef, GatewayHttpError> {
    app.endpoints.get(target).cloned().ok_or_else(|| {
        GatewayHttpError::new(StatusCode::NOT_FOUND, "not_found", format!("target `{target}` is not configured"))
    })
}

async fn query(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let answer = async {
        let mut d = GatewayCodec.decode_query(&body)?;
        d.request.endpoint = Some(select(&app, &d.target)?);
        let stream = d.request.emit_tokens;
        text(&d.target, app.client.text(&d.request), stream).await
    };
    answer.await.unwrap_or_else(|e| failure(&e))
}

async fn chat(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let answer = async {
        let mut d = GatewayCodec.decode_chat(&body)?;
        d.request.endpoint = Some(select(&app, &d.target)?);
        let stream = d.request.emit_tokens;
        text(&d.target, app.client.text(&d.request), stream).await
    };
    answer.await.unwrap_or_else(|e| failure(&e))
}

async fn embed(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let answer = async {
        let mut d = GatewayCodec.decode_embed(&body)?;
        d.request.endpoint = Some(select(&app, &d.target)?);
        let response = app.client.embed(d.request).await.map_err(|e| SippErrorTranslator.translate(&e))?;
        Ok::<_, GatewayHttpError>(json(GatewayCodec.encode_embedding(&d.target, &response)?))
    };
    answer.await.unwrap_or_else(|e| failure(&e))
}

/// JSON when the body did not ask to stream; else SSE frames until `done` or `error`.
async fn text(target: &str, run: SippTextRun, stream: bool) -> Result<Response, GatewayHttpError> {
    if !stream {
        let response = run.await.map_err(|e| SippErrorTranslator.translate(&e))?;
        return Ok(json(GatewayCodec.encode_text(target, &response)?));
    }
    let frames = futures_util::stream::unfold(Some(run), |run| async move {
        let mut run = run?;
        match run.next().await {
            Some(Ok(batch)) => Some((SseEncoder.token(&batch), Some(run))),
            Some(Err(e)) => Some((SseEncoder.error(&SippErrorTranslator.translate(&e)), None)),
            None => Some((
                match run.finish().await {
                    Ok(r) => SseEncoder.finish(&r),
                    Err(e) => SseEncoder.error(&SippErrorTranslator.translate(&e)),
                },
                None,
            )),
        }
    });
    let mut response = Response::new(Body::from_stream(frames.map(Ok::<_, std::convert::Infallible>)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(SSE_CONTENT_TYPE));
    Ok(response)
}

fn json(body: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn failure(e: &GatewayHttpError) -> Response {
    let mut r = (e.status, [(CONTENT_TYPE, "application/json")], e.body()).into_response();
    if let Some(secs) = e.retry_after_secs {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}
