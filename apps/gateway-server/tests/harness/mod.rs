//! What the reliability suites share: a gateway served in-process on free loopback ports
//! (the real accept loop, limits and shutdown), an upstream whose misbehaviour each test
//! picks by model name, raw-socket HTTP for what a client library would not send, and
//! this process's RSS.
#![allow(dead_code)] // each suite uses a different subset

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sipp_gateway_server::config::GatewayConfig;
use sipp_gateway_server::serve::{prepare, run_with_drain};
use sipp_gateway_server::state::AppState;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub const TOKEN: &str = "harness-token-0123456789";
/// The upstream key: no answer, log line or error may ever show it.
pub const UPSTREAM_KEY: &str = "sk-harness-upstream-KEY-0123456789abcdefghij";

/// What the faulty upstream saw: the `Authorization` of every request, and how many
/// body bytes it managed to write.
#[derive(Debug, Default)]
pub struct Seen {
    pub authorizations: Mutex<Vec<String>>,
    pub bytes_written: AtomicU64,
}

/// An OpenAI-compatible upstream whose answer is chosen by the request's `model`:
///
/// | model | answer |
/// |---|---|
/// | `ok` | `Hello` (JSON or SSE) |
/// | `slow-first-byte` | nothing for 3 s, then `Hello` |
/// | `stall` | one SSE chunk, then silence |
/// | `reset` | one SSE chunk, then the connection breaks |
/// | `late-reset` | one SSE chunk, then 300 ms later the connection breaks |
/// | `garbage` | `200` with a body that is not JSON |
/// | `wrong-types` | `200` whose `content` is a number |
/// | `status-NNN` | that status, with the key in the error body straddling the excerpt's cut |
/// | `retry-after` | 429 with `Retry-After: 999999999999` |
/// | `huge-json` | 200 MB of JSON |
/// | `huge-stream` | endless SSE chunks (counts what it could write) |
/// | `huge-line` | an SSE line that never ends (1 MiB pieces, forever) |
/// | `redirect` | 307 to `redirect_to` |
pub async fn faulty_upstream(redirect_to: Option<String>) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let state = (Arc::clone(&seen), redirect_to);
    let app = Router::new()
        .route("/v1/chat/completions", axum::routing::post(answer))
        .route("/v1/completions", axum::routing::post(answer))
        .route("/v1/embeddings", axum::routing::post(embeddings))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

type UpstreamState = (Arc<Seen>, Option<String>);

async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
    let n = body["input"].as_str().map_or(0, str::len);
    #[allow(clippy::cast_precision_loss)]
    Json(json!({"data": [{"index": 0, "embedding": [n as f32, 0.5, -0.25]}], "usage": {"prompt_tokens": 3}}))
}

fn chunk(text: &str) -> String {
    format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}))
}

fn hello(stream: bool) -> Response {
    if stream {
        let frames = [
            chunk("Hel"),
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n".into(),
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n".into(),
            "data: [DONE]\n\n".into(),
        ];
        return sse(futures_util::stream::iter(frames.map(|f| Ok(Bytes::from(f)))).boxed());
    }
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 5, "completion_tokens": 2}});
    json_response(200, &body.to_string())
}

type Frames = futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

fn sse(frames: Frames) -> Response {
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(frames)).unwrap()
}

fn json_response(status: u16, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn answer(
    State((seen, redirect_to)): State<UpstreamState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    seen.authorizations.lock().unwrap().push(auth);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let stream = body["stream"] == json!(true);
    match model.as_str() {
        "slow-first-byte" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            hello(stream)
        }
        "stall" => sse(futures_util::stream::once(async { Ok(Bytes::from(chunk("Hel"))) })
            .chain(futures_util::stream::pending())
            .boxed()),
        "reset" => sse(futures_util::stream::iter([
            Ok(Bytes::from(chunk("Hel"))),
            Err(std::io::Error::other("upstream reset")),
        ])
        .boxed()),
        "late-reset" => sse(futures_util::stream::once(async { Ok(Bytes::from(chunk("Hel"))) })
            .chain(futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Err(std::io::Error::other("upstream reset"))
            }))
            .boxed()),
        "garbage" => json_response(200, "<html>not json</html>"),
        "wrong-types" => json_response(
            200,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":12345},"finish_reason":"stop"}]}"#,
        ),
        "retry-after" => Response::builder()
            .status(429)
            .header("retry-after", "999999999999")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#))
            .unwrap(),
        "huge-json" => {
            // 200 MB: `{"choices":[{"text":"xxxx…"}]}` in 1 MiB pieces.
            let piece = Bytes::from(vec![b'x'; 1 << 20]);
            let frames = futures_util::stream::iter(
                std::iter::once(Ok::<_, std::io::Error>(Bytes::from_static(br#"{"choices":[{"index":0,"text":""#)))
                    .chain((0..200).map(move |_| Ok(piece.clone())))
                    .chain(std::iter::once(Ok(Bytes::from_static(br#""}]}"#)))),
            );
            Response::builder().header("content-type", "application/json").body(Body::from_stream(frames)).unwrap()
        }
        "huge-stream" => {
            let seen = Arc::clone(&seen);
            let frame = Bytes::from(chunk(&"y".repeat(4096)));
            let frames = futures_util::stream::iter(std::iter::repeat(frame)).map(move |f| {
                seen.bytes_written.fetch_add(f.len() as u64, Ordering::Relaxed);
                Ok(f)
            });
            sse(frames.boxed())
        }
        "huge-line" => {
            let piece = Bytes::from(vec![b'z'; 1 << 20]);
            let frames = futures_util::stream::iter(std::iter::once(Ok(Bytes::from_static(b"data: "))))
                .chain(futures_util::stream::iter(std::iter::repeat_with(move || Ok(piece.clone()))));
            sse(frames.boxed())
        }
        "redirect" => Response::builder()
            .status(307)
            .header("location", redirect_to.unwrap_or_default())
            .body(Body::empty())
            .unwrap(),
        m if m.starts_with("status-") => {
            let status: u16 = m["status-".len()..].parse().unwrap();
            // The key straddles the 200-character excerpt, where a cut-then-mask would
            // have let its first part through.
            let message = format!("{}{UPSTREAM_KEY} was refused", "e".repeat(180));
            json_response(status, &json!({"error": {"message": message, "type": "x"}}).to_string())
        }
        _ => hello(stream),
    }
}

/// A gateway serving in this process.
pub struct Running {
    pub public: SocketAddr,
    pub management: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.public)
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.management)).await.unwrap().text().await.unwrap()
    }

    /// The value of one metric line (`name{labels}`), 0 when absent.
    pub async fn metric(&self, line: &str) -> f64 {
        let text = self.metrics().await;
        text.lines().find_map(|l| l.strip_prefix(line)?.trim().parse().ok()).unwrap_or(0.0)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            tokio::time::timeout(Duration::from_secs(20), d).await.expect("gateway stops").unwrap().unwrap();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The TOML of a gateway on free ports whose provider targets (`[[targets]]` named as
/// the upstream models above) point at `upstream`; `extra` is appended (more targets,
/// `[limits]`).
pub fn config_text(upstream: &str, targets: &[&str], head: &str, extra: &str) -> (String, u16, u16) {
    let (public, management) = (free_port(), free_port());
    let mut text = format!(
        r#"
public_bind = "127.0.0.1:{public}"
management_bind = "127.0.0.1:{management}"
max_request_bytes = 65536
admin_password_env = "H_ADMIN"
{head}
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "H_TOKEN"
caller = "harness"
"#
    );
    for t in targets {
        text.push_str(&format!(
            "[[targets]]\nname = \"{t}\"\ntype = \"openai_compatible\"\nmodel = \"{t}\"\nbase_url = \"{upstream}\"\n\
             token_env = \"H_UPSTREAM\"\ntimeout_seconds = 2\n"
        ));
    }
    text.push_str(extra);
    (text, public, management)
}

/// A `[[targets]]` entry for the default model, as `local`, with `n_ctx` cells.
pub fn local_target(n_ctx: u32) -> String {
    let model = sipp_models::default_model().expect("default model");
    format!(
        "[[targets]]\nname = \"local\"\ntype = \"local\"\nmodel = \"{}\"\n[targets.runtime.context]\nn_ctx = {n_ctx}\n",
        model.display()
    )
}

pub fn env(name: &str) -> Option<String> {
    match name {
        "H_TOKEN" => Some(TOKEN.into()),
        "H_ADMIN" => Some("harness-admin".into()),
        "H_UPSTREAM" => Some(UPSTREAM_KEY.into()),
        _ => None,
    }
}

/// Serve `text` in this process; returns once every target is loaded.
pub async fn start(text: &str, public: u16, management: u16) -> Running {
    let config = GatewayConfig::parse(text).unwrap_or_else(|p| panic!("{p}\n{text}"));
    let prepared = prepare(config, &env).unwrap();
    let state = Arc::clone(&prepared.state);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let done = tokio::spawn(run_with_drain(
        prepared,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_secs(5),
    ));
    let running = Running {
        public: SocketAddr::from(([127, 0, 0, 1], public)),
        management: SocketAddr::from(([127, 0, 0, 1], management)),
        state,
        stop: Some(stop_tx),
        done: Some(done),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !running.state.is_ready() {
        assert!(tokio::time::Instant::now() < deadline, "targets did not load in 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The listeners bind before targets load; wait until they accept.
    while TcpStream::connect(running.public).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running
}

/// A JSON POST on the public listener, answered as it comes.
pub async fn send(gw: &Running, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(gw.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap()
}

/// A JSON POST on the public listener: status, headers, body.
pub async fn post(gw: &Running, path: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, String) {
    let r = send(gw, path, body).await;
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

pub fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": stream})
}

/// One raw exchange: write `request`, read until the server closes or `wait` passes.
pub async fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_until_close(&mut s, wait).await
}

/// Everything the server sends until it closes (or `wait` passes).
pub async fn read_until_close(s: &mut TcpStream, wait: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closed `s` within `wait` (a read returns 0 or fails).
pub async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// The status code and JSON body of a raw HTTP answer.
pub fn parse_answer(raw: &str) -> (u16, Value) {
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Resident memory of this process in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// The spec's error JSON: `{"error": {"code": <string>, "message": <string>}}`.
pub fn is_error_json(v: &Value) -> bool {
    v["error"]["code"].is_string() && v["error"]["message"].is_string()
}
