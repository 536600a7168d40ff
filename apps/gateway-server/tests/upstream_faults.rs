//! Upstream faults through the real gateway (accept loop to provider transport) against
//! a controllable mock: slow first byte, stalls, resets, garbage, wrong types, status
//! storms, oversize answers and redirects. Each gives the client the typed error the
//! gateway names (JSON, or an SSE `error` event once a stream started), never the
//! upstream key, releases its admission slot, and the next request works.

mod harness;

use harness::{chat, post, Running, UPSTREAM_KEY};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TARGETS: &[&str] = &[
    "ok",
    "slow-first-byte",
    "stall",
    "reset",
    "garbage",
    "wrong-types",
    "retry-after",
    "huge-json",
    "huge-stream",
    "huge-line",
    "redirect",
    "status-401",
    "status-403",
    "status-404",
    "status-413",
    "status-422",
    "status-429",
    "status-500",
    "status-502",
    "status-503",
    "status-504",
];

async fn gateway(upstream: &str, head: &str) -> Running {
    let limits = "[limits]\nstream_keep_alive_seconds = 1\n";
    let (text, public, management) = harness::config_text(upstream, TARGETS, head, limits);
    harness::start(&text, public, management).await
}

/// Nothing the client gets may show the key, whole or in part.
fn assert_no_key(text: &str) {
    for part in [UPSTREAM_KEY, &UPSTREAM_KEY[..12], &UPSTREAM_KEY[UPSTREAM_KEY.len() - 12..]] {
        assert!(!text.contains(part), "the upstream key leaked: {text}");
    }
}

async fn assert_next_request_works(gw: &Running) {
    let (status, _, body) = post(gw, "/v1/chat", &chat("ok", false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["text"], "Hello");
}

/// An SSE body's `error` event payload, if it has one.
fn sse_error(body: &str) -> Option<Value> {
    let at = body.find("event: error\ndata: ")?;
    let line = body[at + "event: error\ndata: ".len()..].lines().next()?;
    serde_json::from_str(line).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_map_to_gateway_codes_in_both_dialects_without_the_key() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, "max_concurrent_requests = 4").await;
    let cases = [
        ("status-401", 502, "upstream_authentication", None),
        ("status-403", 502, "upstream_authentication", None),
        ("status-404", 502, "upstream_not_found", None),
        ("status-413", 502, "upstream_payload_too_large", None),
        ("status-422", 400, "invalid_request", None),
        ("status-429", 503, "upstream_overloaded", Some("1")),
        ("retry-after", 503, "upstream_overloaded", Some("60")),
        ("status-500", 502, "upstream_error", None),
        ("status-502", 502, "upstream_error", None),
        ("status-504", 502, "upstream_error", None),
        ("status-503", 503, "upstream_unavailable", Some("1")),
        ("garbage", 502, "upstream_protocol", None),
        ("wrong-types", 502, "upstream_protocol", None),
    ];
    for (model, status, code, retry_after) in cases {
        for path in ["/v1/chat", "/v1/chat/completions"] {
            let (got, headers, body) = post(&gw, path, &chat(model, false)).await;
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{model} {path}: {body}"));
            assert_eq!((got, v["error"]["code"].as_str()), (status, Some(code)), "{model} {path}: {body}");
            let header = headers.get("retry-after").map(|h| h.to_str().unwrap().to_string());
            assert_eq!(header.as_deref(), retry_after, "{model} {path}");
            assert_no_key(&body);
            assert!(v["error"]["message"].as_str().unwrap().len() < 400, "{model}: a short excerpt only: {body}");
        }
    }
    // `content: 12345` is a broken answer, not an empty one, also when streamed whole.
    let (_, _, body) = post(&gw, "/v1/chat", &chat("wrong-types", false)).await;
    assert!(body.contains("where text belongs"), "{body}");
    assert_next_request_works(&gw).await;
    assert_eq!(gw.metric("sipp_gateway_in_flight_requests").await, 0.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_an_error_and_the_key_goes_nowhere_else() {
    // The chain: upstream A answers 307 to a foreign port B (which would answer
    // 307 back). Nothing may reach B; the client learns where A pointed, not the key.
    let (foreign, foreign_seen) = harness::faulty_upstream(None).await;
    let foreign_origin = foreign.trim_end_matches("/v1").to_string();
    let (upstream, seen) = harness::faulty_upstream(Some(format!("{foreign}/chat/completions?k=1"))).await;
    let gw = gateway(&upstream, "").await;
    for path in ["/v1/chat", "/v1/chat/completions"] {
        let (status, _, body) = post(&gw, path, &chat("redirect", false)).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, v["error"]["code"].as_str()), (502, Some("upstream_protocol")), "{body}");
        assert!(body.contains(&foreign_origin) && body.contains("redirect"), "names the origin: {body}");
        assert!(!body.contains("k=1"), "only the origin: {body}");
        assert_no_key(&body);
    }
    assert!(foreign_seen.authorizations.lock().unwrap().is_empty(), "the foreign host got a request");
    assert_eq!(seen.authorizations.lock().unwrap().len(), 2);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_stalled_and_broken_upstreams() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, "").await;
    // Slow first byte past the target's 2 s deadline: 504, in about that time.
    let started = Instant::now();
    let (status, _, body) = post(&gw, "/v1/chat", &chat("slow-first-byte", false)).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"]["code"].as_str()),
        (504, Some("upstream_timeout"))
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // Streamed: headers at once, keep-alive comments while waiting, the stream counted
    // in flight, then the error event.
    let started = Instant::now();
    let mut r = harness::send(&gw, "/v1/chat", &chat("slow-first-byte", true)).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "headers took {:?}", started.elapsed());
    assert_eq!(r.status(), 200);
    assert_eq!(gw.metric("sipp_gateway_in_flight_requests").await, 1.0, "a waiting stream is in flight");
    let mut body = String::new();
    while let Some(c) = r.chunk().await.unwrap() {
        body.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(body.starts_with(": keep-alive\n\n"), "{body}");
    assert_eq!(sse_error(&body).unwrap()["error"]["code"], "upstream_timeout", "{body}");

    for (model, code) in
        [("stall", "upstream_timeout"), ("reset", "upstream_connection"), ("huge-line", "upstream_protocol")]
    {
        let started = Instant::now();
        let (status, _, body) = post(&gw, "/v1/chat", &chat(model, true)).await;
        assert_eq!(status, 200, "{model}");
        let e = sse_error(&body).unwrap_or_else(|| panic!("{model}: no error event: {body:.300}"));
        assert_eq!(e["error"]["code"], code, "{model}: {body:.300}");
        assert!(started.elapsed() < Duration::from_secs(5), "{model}: {:?}", started.elapsed());
        assert_no_key(&body);
        // OpenAI dialect: the same code in its error object.
        let (_, _, body) = post(&gw, "/v1/chat/completions", &chat(model, true)).await;
        assert!(body.contains(code) && body.contains("\"error\""), "{model}: {body:.300}");
    }
    assert_next_request_works(&gw).await;
    assert_eq!(gw.metric("sipp_gateway_in_flight_requests").await, 0.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_answers_are_bounded() {
    let (upstream, seen) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, "").await;
    let before = harness::rss_bytes();
    let (status, _, body) = post(&gw, "/v1/completions", &json!({"model": "huge-json", "prompt": "x"})).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, v["error"]["code"].as_str()), (502, Some("upstream_protocol")), "{body:.300}");
    assert!(body.contains("larger than 64 MiB"), "{body:.300}");
    let grown = harness::rss_bytes().saturating_sub(before);
    assert!(grown < 160 << 20, "a 200 MB answer grew RSS by {} MB", grown >> 20);

    // Backpressure: a client that reads nothing holds the upstream back.
    let r = harness::send(&gw, "/v1/chat", &chat("huge-stream", true)).await;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let written = seen.bytes_written.load(Ordering::Relaxed);
    assert!(written < 48 << 20, "the upstream wrote {} MB to a client that read nothing", written >> 20);
    drop(r);
    assert_next_request_works(&gw).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_storms_release_every_admission_slot() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, "max_concurrent_requests = 4").await;
    let gw = std::sync::Arc::new(gw);
    let mut tasks = Vec::new();
    for i in 0..90 {
        let gw = std::sync::Arc::clone(&gw);
        let model = ["status-429", "status-500", "status-503"][i % 3];
        let stream = i % 2 == 0;
        tasks.push(tokio::spawn(async move { post(&gw, "/v1/chat", &chat(model, stream)).await }));
    }
    for t in tasks {
        let (status, _, body) = t.await.unwrap();
        // Each is an upstream failure, or the gateway's own admission refusal (429).
        let fine = matches!(status, 200 | 429 | 502 | 503);
        assert!(fine, "{status}: {body}");
        if status != 200 {
            assert!(harness::is_error_json(&serde_json::from_str(&body).unwrap()), "{body}");
        } else {
            assert!(sse_error(&body).is_some(), "{body}");
        }
        assert_no_key(&body);
    }
    assert_eq!(gw.metric("sipp_gateway_in_flight_requests").await, 0.0);
    // All four places are free again: four at once succeed.
    let body = chat("ok", false);
    let oks = futures_util::future::join_all((0..4).map(|_| post(&gw, "/v1/chat", &body))).await;
    assert!(oks.iter().all(|(s, _, _)| *s == 200), "{:?}", oks.iter().map(|o| o.0).collect::<Vec<_>>());
    std::sync::Arc::try_unwrap(gw).ok().unwrap().stop().await;
}
