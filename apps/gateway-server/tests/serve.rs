//! The `sipp-gateway` binary end to end on free loopback ports, with a local target (the
//! default model) and a provider target on a loopback mock (which shows the request id
//! reaching it): Sipp's own gateway endpoint against it, curl-style calls, a client
//! that disconnects mid-stream (the engine sequence is freed: metrics show it), logs free
//! of secrets, and graceful shutdown with a stream open.

use futures_util::StreamExt;
use sipp::engine::{ChatMessage, ChatRole};
use sipp::{
    FinishReason, GatewayAuthentication, GatewayDescriptor, SippChatRequest, SippClient, SippQueryRequest,
    SippTextOptions,
};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common; // the router tests' loopback mock upstream

const TOKEN: &str = "serve-test-token-0123456789";
const ADMIN: &str = "serve-test-admin-password";
const UPSTREAM_KEY: &str = "serve-test-upstream-key-0123";

struct Gateway {
    child: Child,
    /// Drains the gateway's stderr as it comes (a full pipe would block its logging).
    logs: Option<std::thread::JoinHandle<String>>,
    public: String,
    management: String,
    _dir: tempfile::TempDir,
}

impl Gateway {
    async fn start() -> Self {
        Self::start_on(None).await
    }

    /// `cpu`: run the binary under `taskset -c cpu` (one CPU: the current-thread runtime).
    async fn start_on(cpu: Option<&str>) -> Self {
        let upstream = common::mock_upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let (public, management) = (free_port(), free_port());
        let model = sipp_models::default_model().expect("default model");
        let config = format!(
            r#"
public_bind = "127.0.0.1:{public}"
management_bind = "127.0.0.1:{management}"
max_request_bytes = 65536
max_concurrent_requests = 8
admin_password_env = "TEST_ADMIN_PASSWORD"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60
[[tokens]]
env = "TEST_GATEWAY_TOKEN"
caller = "serve-test"
targets = []
[[targets]]
name = "local"
type = "local"
model = "{}"
stats = "basic"
[targets.runtime.context]
n_ctx = 1024
[[targets]]
name = "mock"
type = "openai_compatible"
model = "served"
base_url = "{upstream}"
token_env = "TEST_UPSTREAM_TOKEN"
correlation_header = "x-trace-id"
[[targets]]
name = "embed"
type = "local"
model = "{}"
[targets.runtime.context]
embeddings = true
"#,
            model.display(),
            sipp_models::models_dir().join("all-MiniLM-L6-v2.F16.gguf").display()
        );
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, config).unwrap();
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpu, env!("CARGO_BIN_EXE_sipp-gateway")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_sipp-gateway")),
        };
        let child = command
            .args(["serve", "--config"])
            .arg(&path)
            .env("TEST_GATEWAY_TOKEN", TOKEN)
            .env("TEST_ADMIN_PASSWORD", ADMIN)
            .env("TEST_UPSTREAM_TOKEN", UPSTREAM_KEY)
            // No dashboard build here: startup must say so, and what to do.
            .env("SIPP_GATEWAY_ADMIN_ASSETS_DIR", "/nonexistent-admin-ui")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = child;
        let mut stderr = child.stderr.take().unwrap();
        let logs = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let g = Self {
            child,
            logs: Some(logs),
            public: format!("http://127.0.0.1:{public}"),
            management: format!("http://127.0.0.1:{management}"),
            _dir: dir,
        };
        g.wait_ready().await;
        g
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if get_text(&format!("{}/readyz", self.management)).await.is_ok_and(|r| r == "ready") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the gateway did not become ready in 60 s");
    }

    async fn metrics(&self) -> String {
        get_text(&format!("{}/metrics", self.management)).await.unwrap()
    }

    /// Stop with SIGTERM; the exit status and everything it logged.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status = self.child.wait().unwrap();
        let logs = self.logs.take().unwrap().join().unwrap();
        (status, logs)
    }
}

/// Pinned to one CPU (how the gateway benchmark runs it, and a one-CPU container), the
/// gateway runs tokio's current-thread runtime: the local engine, a proxied target and a
/// stream all still answer, and it stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_one_cpu_the_gateway_serves_on_the_current_thread_runtime() {
    let gw = Gateway::start_on(Some("0")).await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(format!("{}/v1/chat/completions", gw.public))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let hi = serde_json::json!([{"role": "user", "content": "What is the capital of France?"}]);
    let r = post(serde_json::json!({"model": "mock", "messages": hi})).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = post(serde_json::json!({"model": "local", "messages": hi, "max_tokens": 8, "stream": true})).await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("chat.completion.chunk") && body.trim_end().ends_with("data: [DONE]"), "{body}");
    let (status, logs) = tokio::task::spawn_blocking(move || gw.stop()).await.unwrap();
    assert!(status.success(), "exit {status}: {logs}");
    assert!(logs.contains(r#""runtime":"current_thread""#), "{logs}");
}

async fn get_text(url: &str) -> reqwest::Result<String> {
    reqwest::get(url).await?.text().await
}

/// `promtool check metrics` (Debian's `prometheus` package; `cargo xtask test` installs
/// it) on an exposition: parse errors and lint problems both fail.
fn promtool_check(metrics: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: `cargo xtask test` installs it (apt package prometheus)");
    child.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics:\n{said}\n---\n{metrics}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new(ChatRole::System, "Answer concisely."),
        ChatMessage::new(ChatRole::User, "What is the capital of France?"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_a_local_target_end_to_end() {
    let gw = Gateway::start().await;

    // Sipp's own gateway endpoint, non-streaming and streaming.
    let client = SippClient::new();
    let ep = client
        .add(
            "gw",
            GatewayDescriptor::new("local", gw.public.clone())
                .with_authentication(GatewayAuthentication::bearer(TOKEN)),
        )
        .await
        .unwrap();
    let greedy = SippTextOptions { max_tokens: Some(16), temperature: Some(0.0), ..Default::default() };
    let chat = |emit_tokens| SippChatRequest {
        endpoint: Some(ep.clone()),
        messages: messages(),
        options: greedy.clone(),
        emit_tokens,
        ..Default::default()
    };
    let r = client.chat(chat(false)).await.unwrap();
    assert!(r.text.contains("Paris"), "{}", r.text);
    assert!(r.usage.unwrap().input_tokens > 10);
    let mut run = client.chat(chat(true));
    let mut streamed = String::new();
    while let Some(b) = run.next().await {
        streamed.push_str(&b.unwrap().text);
    }
    assert_eq!(streamed, run.response().await.unwrap().text);
    assert_eq!(streamed, r.text, "greedy: the same answer streamed or not");

    // curl-style: the Testing page's query, and a typed error for an oversize context.
    let http = reqwest::Client::new();
    let body = serde_json::json!({"model": "local", "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0.0});
    let answer = http
        .post(format!("{}/v1/query", gw.public))
        .bearer_auth(TOKEN)
        .header("x-request-id", "curl-query-1")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "curl-query-1");
    let answer: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!((answer["model"].as_str(), answer["finish_reason"].as_str()), (Some("local"), Some("length")));

    // The provider target: chat (its upstream sees the request id under the target's
    // correlation_header) and embed, curl-style.
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{}{path}", gw.public))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let chat_body =
        serde_json::json!({"model": "mock", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8});
    let r = post("/v1/chat", chat_body).header("x-request-id", "curl-chat-1").send().await.unwrap();
    let r: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(r["text"], "Hello curl-chat-1");
    let r = post("/v1/embed", serde_json::json!({"model": "mock", "input": "gateway inference"})).send().await.unwrap();
    let r: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        r,
        serde_json::json!({"id": "response", "model": "mock", "embedding": [17.0, 0.5, -0.25],
                                       "usage": {"input_tokens": 3, "output_tokens": 0, "total_tokens": 3}})
    );
    // A local embedding target, three times: llama.cpp says nothing about it (it warned
    // once per request while the batch marked only the last token as an output).
    for i in 0..3 {
        let r = post("/v1/embed", serde_json::json!({"model": "embed", "input": format!("sentence {i}")}));
        let r: serde_json::Value = serde_json::from_slice(&r.send().await.unwrap().bytes().await.unwrap()).unwrap();
        assert_eq!(r["embedding"].as_array().map(Vec::len), Some(384), "{r}");
    }
    // A 60 KB target name is refused, and logged as its first 64 characters.
    let huge = "m".repeat(60_000);
    let r = post("/v1/embed", serde_json::json!({"model": huge, "input": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let long = "word ".repeat(3000);
    let e = client
        .query(SippQueryRequest { endpoint: Some(ep.clone()), prompt: long, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "context_overflow", "the engine's error keeps its code through the gateway: {e}");

    // A client that disconnects mid-stream frees the engine sequence.
    let before = gw.metrics().await;
    assert!(before.contains("sipp_target_cancelled_requests_total{target=\"local\"} 0"), "{before}");
    let mut run = client.query(SippQueryRequest {
        endpoint: Some(ep.clone()),
        prompt: "Once upon a time".into(),
        options: SippTextOptions { max_tokens: Some(400), ..Default::default() },
        emit_tokens: true,
        ..Default::default()
    });
    run.next().await.unwrap().unwrap();
    drop(run);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = gw.metrics().await;
        if m.contains("sipp_target_cancelled_requests_total{target=\"local\"} 1") {
            assert!(m.contains("sipp_gateway_in_flight_requests 0"), "{m}");
            break;
        }
        assert!(Instant::now() < deadline, "the engine never saw the disconnect:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The exposition after real traffic (errors, cancels, local runtime stats) is what
    // Prometheus itself accepts.
    promtool_check(&gw.metrics().await);

    // Graceful shutdown with a stream open: it ends, and the process exits.
    let mut open = client.chat(SippChatRequest {
        options: SippTextOptions { max_tokens: Some(64), temperature: Some(0.0), ..Default::default() },
        ..chat(true)
    });
    open.next().await.unwrap().unwrap();
    let started = Instant::now();
    let (status, logs) = tokio::task::spawn_blocking(move || gw.stop()).await.unwrap();
    assert!(status.success(), "exit {status}: {logs}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let rest = open.response().await;
    assert!(matches!(&rest, Ok(r) if r.finish_reason != FinishReason::Cancelled) || rest.is_err(), "{rest:?}");

    assert!(
        logs.contains("assets are not at /nonexistent-admin-ui") && logs.contains("cargo xtask build gateway-server"),
        "{logs}"
    );
    // One JSON line per request, and never a secret.
    assert!(![TOKEN, ADMIN, UPSTREAM_KEY].iter().any(|s| logs.contains(s)), "a secret reached the logs");
    let requests: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() >= 5, "{logs}");
    assert!(
        requests.iter().any(|v| v["fields"]["request_id"] == "curl-query-1" && v["fields"]["status"] == 200),
        "{logs}"
    );
    assert!(!logs.contains("capital of France"), "prompt text reached the logs");
    assert!(!logs.contains("not marked as outputs"), "llama.cpp warned about an embedding batch");
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 4096, "a log line of {longest} bytes: client strings must be capped");
}
