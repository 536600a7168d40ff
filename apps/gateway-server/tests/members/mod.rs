//! Pool members for the pool suites: OpenAI-compatible upstreams on their own loopback
//! ports that say who they are, and that can be killed — listener and every open
//! connection at once, as a crashed server would go.
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::{Json, Router};
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// `max_tokens` that asks for a slow stream: one chunk, then 10 s before the rest.
pub const SLOW_STREAM: u64 = 999;

pub struct Member {
    pub url: String,
    pub served: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    /// A member that answers `served-by-<name>`.
    pub async fn start(name: &str) -> Self {
        let served = Arc::new(AtomicU64::new(0));
        let state = (name.to_string(), Arc::clone(&served));
        let app = Router::new()
            .route("/v1/chat/completions", axum::routing::post(chat))
            .route("/v1/models", axum::routing::get(|| async { Json(json!({"object": "list", "data": []})) }))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, served, task }
    }

    /// Gone: the listener closes and every open connection breaks.
    pub fn kill(&self) {
        self.task.abort();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type State = (String, Arc<AtomicU64>);

async fn chat(axum::extract::State((name, served)): axum::extract::State<State>, Json(body): Json<Value>) -> Response {
    served.fetch_add(1, Ordering::Relaxed);
    let text = format!("served-by-{name}");
    if body["stream"] == json!(true) {
        let slow = body["max_tokens"].as_u64() == Some(SLOW_STREAM);
        let first = format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        );
        let rest = [
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\".\"},\"finish_reason\":\"stop\"}]}\n\n"
                .to_string(),
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}\n\n".to_string(),
            "data: [DONE]\n\n".to_string(),
        ];
        let frames = futures_util::stream::once(async move { first })
            .chain(futures_util::stream::once(async move {
                if slow {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                String::new()
            }))
            .chain(futures_util::stream::iter(rest))
            .map(|f| Ok::<_, std::convert::Infallible>(Bytes::from(f)));
        return Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(frames))
            .unwrap();
    }
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 10, "completion_tokens": 2}});
    Response::builder().header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
}
