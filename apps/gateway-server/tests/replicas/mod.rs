//! What the multi-replica suites share: a real `redis-server` on a free loopback port
//! (killed and restarted at will), `sipp-gateway` processes serving one config, and an
//! OpenAI-compatible upstream that holds each answer as long as its model says, so a
//! test decides when requests end.
#![allow(dead_code)] // each suite uses a different subset

use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "replica-token-0123456789";
/// Callers a config may name (each has its token variable set).
pub const CALLERS: usize = 16;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `redis-server` (Debian's package; `cargo xtask test` installs it), no persistence.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    pub async fn start() -> Self {
        let mut r = Self { child: None, port: free_port() };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Start (again) on the same port, empty.
    pub async fn restart(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package; `cargo xtask test` installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn ping(&self) -> bool {
        use std::io::Write;
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }

    /// SIGKILL: what a crashed or partitioned Redis looks like to the gateways.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `sipp-gateway` process.
pub struct Replica {
    child: Option<Child>,
    config: PathBuf,
    pub public: String,
    pub management: String,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl Replica {
    /// Serve `config` (from [`config`]) and wait until ready.
    pub async fn start(dir: &std::path::Path, name: &str, config: &str) -> Self {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let v: toml::Value = toml::from_str(config).unwrap();
        let addr = |k: &str| format!("http://{}", v[k].as_str().unwrap());
        let mut r = Self {
            child: None,
            config: path,
            public: addr("public_bind"),
            management: addr("management_bind"),
            logs: None,
        };
        r.spawn();
        r.wait_ready().await;
        r
    }

    fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sipp-gateway"));
        for i in 0..CALLERS {
            command.env(format!("R_TOKEN_{i}"), token(i));
        }
        let mut child = command
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("R_ADMIN", "replica-admin-password")
            .env("R_UPSTREAM", "sk-upstream")
            .env("SIPP_GATEWAY_ADMIN_ASSETS_DIR", "/nonexistent-admin-ui")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        self.logs = Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        }));
        self.child = Some(child);
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.readiness().await.is_some_and(|(status, _)| status == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the replica did not become ready in 60 s");
    }

    /// `/readyz`'s status and text.
    pub async fn readiness(&self) -> Option<(u16, String)> {
        let r = reqwest::get(format!("{}/readyz", self.management)).await.ok()?;
        Some((r.status().as_u16(), r.text().await.ok()?))
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.management)).await.unwrap().text().await.unwrap()
    }

    /// One metric line's value (`name{labels}`), 0 when absent.
    pub async fn metric(&self, line: &str) -> f64 {
        let text = self.metrics().await;
        text.lines().find_map(|l| l.strip_prefix(line)?.trim().parse().ok()).unwrap_or(0.0)
    }

    /// SIGKILL: the replica dies with its requests, settling nothing.
    pub fn kill(&mut self) -> String {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.logs.take().map(|l| l.join().unwrap()).unwrap_or_default()
    }

    /// Start again with the same config (and ports).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready().await;
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A replica's TOML: `openai_compatible` targets on `upstream`, `mock` whose answers
/// take `hold_ms` and `quick`, the `[[tokens]]` entries given (each `caller` with the limit lines
/// given) and `extra` (`[state]`, more targets).
pub fn config(upstream: &str, hold_ms: u64, callers: &[(&str, &str)], extra: &str) -> String {
    let mut text = format!(
        r#"
public_bind = "127.0.0.1:{}"
management_bind = "127.0.0.1:{}"
max_request_bytes = 65536
admin_password_env = "R_ADMIN"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
"#,
        free_port(),
        free_port()
    );
    for (i, (caller, limits)) in callers.iter().enumerate() {
        // One env variable holds every caller's token: `R_TOKEN` + the caller index.
        text.push_str(&format!("[[tokens]]\nenv = \"R_TOKEN_{i}\"\ncaller = \"{caller}\"\n{limits}\n"));
    }
    text.push_str(&format!(
        "[[targets]]\nname = \"mock\"\ntype = \"openai_compatible\"\nmodel = \"hold-{hold_ms}\"\nbase_url = \"{upstream}\"\n\
         token_env = \"R_UPSTREAM\"\ntimeout_seconds = 60\n"
    ));
    // `quick`: the same upstream, answering at once.
    text.push_str(&format!(
        "[[targets]]\nname = \"quick\"\ntype = \"openai_compatible\"\nmodel = \"hold-0\"\nbase_url = \"{upstream}\"\n\
         token_env = \"R_UPSTREAM\"\n"
    ));
    text.push_str(extra);
    text
}

/// The bearer token of caller `i` of [`config`].
pub fn token(i: usize) -> String {
    format!("{TOKEN}-{i}")
}

/// An OpenAI-compatible upstream. Every answer waits as long as its model says
/// (`hold-<ms>`), then says `Hello` with usage 10 prompt + 5 completion tokens (JSON,
/// or SSE chunks).
pub async fn held_upstream() -> String {
    async fn chat(Json(body): Json<Value>) -> Response {
        let hold = body["model"].as_str().and_then(|m| m.strip_prefix("hold-")?.parse().ok()).unwrap_or(0u64);
        tokio::time::sleep(Duration::from_millis(hold)).await;
        if body["stream"] == json!(true) {
            let frames = [
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}\n\n",
                "data: [DONE]\n\n",
            ];
            let s = futures_util::stream::iter(frames).map(|f| Ok::<_, std::convert::Infallible>(Bytes::from(f)));
            return Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(s)).unwrap();
        }
        let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                          "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}});
        Response::builder().header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
    }
    let app = Router::new().route("/v1/chat/completions", axum::routing::post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}
