//! Hostile HTTP against the real accept loop: silent, slow (slowloris) and idle
//! connections are closed while other clients are served; a connection limit refuses
//! with a 503 JSON and leaves the management listener reachable; head size limits,
//! early 413s (also for `Expect: 100-continue`), pipelining, HTTP/1.0, no h2c; every
//! refusal in the error JSON.

mod harness;

use harness::{chat, closed_within, parse_answer, post, raw, Running, TOKEN};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// `limits`: more `[limits]` keys (`header_timeout_seconds` is 1 unless given).
async fn gateway(limits: &str) -> Running {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let header = if limits.contains("header_timeout_seconds") { "" } else { "header_timeout_seconds = 1\n" };
    let limits = format!("[limits]\n{header}body_timeout_seconds = 1\n{limits}");
    let (text, public, management) = harness::config_text(&upstream, &["ok"], "", &limits);
    harness::start(&text, public, management).await
}

fn request(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_idle_connections_are_closed_while_others_are_served() {
    let gw = gateway("").await;
    let mut silent = TcpStream::connect(gw.public).await.unwrap();
    let mut half_header = TcpStream::connect(gw.public).await.unwrap();
    half_header.write_all(b"POST /v1/chat HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    // Slowloris: a header line every 300 ms never completes the head in time.
    let slow = tokio::spawn({
        let addr = gw.public;
        async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /v1/models HTTP/1.1\r\n").await.unwrap();
            let started = Instant::now();
            for i in 0..40 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if s.write_all(format!("x-slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                    return started.elapsed();
                }
            }
            started.elapsed()
        }
    });
    // Kept alive after one answer, then idle.
    let mut idle = TcpStream::connect(gw.public).await.unwrap();
    idle.write_all(request("/v1/chat", &harness::chat("ok", false).to_string()).as_bytes()).await.unwrap();
    // Half a body: the head promises 100 bytes, 10 come.
    let mut half_body = TcpStream::connect(gw.public).await.unwrap();
    half_body
        .write_all(
            format!("POST /v1/chat HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 100\r\n\r\n{{\"model\":").as_bytes(),
        )
        .await
        .unwrap();

    // Meanwhile a normal client is served at once.
    let started = Instant::now();
    let (status, _, _) = post(&gw, "/v1/chat", &chat("ok", false)).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_millis(800), "{:?}", started.elapsed());

    for (name, s) in [("silent", &mut silent), ("half header", &mut half_header), ("idle keep-alive", &mut idle)] {
        assert!(closed_within(s, Duration::from_secs(4)).await, "{name} connection still open");
    }
    let answer = harness::read_until_close(&mut half_body, Duration::from_secs(4)).await;
    let (status, v) = parse_answer(&answer);
    assert_eq!((status, v["error"]["code"].as_str()), (408, Some("request_timeout")), "{answer}");
    let slow = slow.await.unwrap();
    assert!(slow < Duration::from_secs(4), "slowloris lasted {slow:?}");
    assert!(gw.metric("sipp_gateway_connections_closed_total{listener=\"public\",reason=\"timed_out\"}").await >= 3.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_refuses_clearly_and_management_stays_reachable() {
    let gw = gateway("max_connections = 8\nheader_timeout_seconds = 3\n").await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(gw.public).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = raw(gw.public, request("/v1/chat", "{}").as_bytes(), Duration::from_secs(3)).await;
    let (status, v) = parse_answer(&answer);
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("unavailable")), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    // The management listener has its own budget.
    let ready = reqwest::get(format!("http://{}/readyz", gw.management)).await.unwrap().text().await.unwrap();
    assert_eq!(ready, "ready");
    assert_eq!(gw.metric("sipp_gateway_open_connections{listener=\"public\"}").await, 8.0);
    assert!(gw.metric("sipp_gateway_connections_closed_total{listener=\"public\",reason=\"refused\"}").await >= 1.0);
    // The held connections time out; then there is room again.
    for s in &mut held {
        assert!(closed_within(s, Duration::from_secs(6)).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, _) = post(&gw, "/v1/chat", &chat("ok", false)).await;
    assert_eq!(status, 200);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_bodies_and_routes_refused_in_the_error_json() {
    let gw = gateway("max_uri_bytes = 1024\nmax_header_bytes = 2048\n").await;
    let long_uri = format!("GET /v1/models?{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(2000));
    let big_header = format!("GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "b".repeat(4000));
    let cases = [
        (long_uri, 414, "uri_too_long"),
        (big_header, 431, "headers_too_large"),
        ("GET /nope HTTP/1.1\r\nhost: x\r\n\r\n".to_string(), 404, "not_found"),
        ("GET /v1/chat HTTP/1.1\r\nhost: x\r\n\r\n".to_string(), 405, "method_not_allowed"),
        // A declared length over max_request_bytes: 413 before a byte of body, and no
        // `100 Continue` first.
        (
            format!(
                "POST /v1/chat HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\nexpect: 100-continue\r\n\
                 content-length: 70000\r\n\r\n"
            ),
            413,
            "payload_too_large",
        ),
        (
            format!("POST /v1/chat HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 10737418240\r\n\r\n"),
            413,
            "payload_too_large",
        ),
        // The scheme is case-insensitive; a 401 names it.
        (request("/v1/chat", "{}").replace("Bearer", "BeArEr"), 400, "invalid_request"),
        ("POST /v1/chat HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}".to_string(), 401, "authentication"),
    ];
    for (req, status, code) in cases {
        let started = Instant::now();
        let answer = raw(gw.public, req.as_bytes(), Duration::from_millis(1500)).await;
        let (got, v) = parse_answer(&answer);
        assert_eq!((got, v["error"]["code"].as_str()), (status, Some(code)), "{answer:.400}");
        assert!(!answer.contains("100 Continue"), "{answer:.400}");
        assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{answer:.400}");
        assert!(started.elapsed() < Duration::from_millis(1200), "{code}: {:?}", started.elapsed());
        if status == 401 {
            assert!(answer.to_ascii_lowercase().contains("www-authenticate: bearer"), "{answer}");
        }
        if status == 405 {
            assert!(answer.to_ascii_lowercase().contains("allow: post"), "{answer}");
        }
    }
    // The management listener: JSON 404, and the admin path with a slash is the dashboard's
    // page (200, or 503 naming what to build where its assets are missing), with its headers.
    let answer = raw(gw.management, b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n", Duration::from_millis(500)).await;
    assert_eq!(parse_answer(&answer).0, 404, "{answer}");
    assert!(harness::is_error_json(&parse_answer(&answer).1), "{answer}");
    let answer = raw(gw.management, b"GET /admin/ HTTP/1.1\r\nhost: x\r\n\r\n", Duration::from_millis(500)).await;
    assert!(matches!(parse_answer(&answer).0, 200 | 503), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-frame-options: deny"), "{answer}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_http10_and_no_h2c() {
    let gw = gateway("").await;
    // Two requests in one write: two answers, in order.
    let body = chat("ok", false).to_string();
    let two = request("/v1/chat", &body).repeat(2);
    let mut s = TcpStream::connect(gw.public).await.unwrap();
    s.write_all(two.as_bytes()).await.unwrap();
    let answer = harness::read_until_close(&mut s, Duration::from_millis(2500)).await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    assert_eq!(answer.matches("\"Hello\"").count(), 2, "{answer}");
    // HTTP/1.0: answered, then closed.
    let one = request("/v1/chat", &body).replace("HTTP/1.1", "HTTP/1.0");
    let answer = raw(gw.public, one.as_bytes(), Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.0 200") && answer.contains("Hello"), "{answer}");
    // The HTTP/2 prior-knowledge preface is not HTTP/1: refused, not served.
    let answer = raw(gw.public, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Duration::from_secs(2)).await;
    assert!(!answer.contains("HTTP/2") && (answer.is_empty() || answer.starts_with("HTTP/1.1 4")), "{answer}");
    gw.stop().await;
}
