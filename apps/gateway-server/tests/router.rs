//! The public and management routers driven with `oneshot` (no sockets for the gateway),
//! with provider targets pointed at a loopback mock of an OpenAI-compatible server:
//! every status path, the SSE event sequence, admission held until a stream ends,
//! readiness before and after loading, and the metrics that result.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use sipp_gateway_server::app::public_app;
use sipp_gateway_server::serve::{load_targets, prepare, Prepared};
use std::sync::Arc;
use tower::ServiceExt;

mod common;
use common::*;

#[tokio::test]
async fn chat_answers_json_and_echoes_the_request_id() {
    let (public, _, _p) = loaded(None).await;
    let mut req = post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false));
    req.headers_mut().insert("x-request-id", "curl-query-1".parse().unwrap());
    let (status, headers, body) = call(&public, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-request-id"], "curl-query-1");
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"id": "response", "model": "mock", "text": "Hello", "finish_reason": "stop",
                          "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}})
    );
    let (_, headers, _) = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await;
    assert!(headers["x-request-id"].to_str().unwrap().starts_with("sipp-"), "a request id is generated");
}

#[tokio::test]
async fn stream_true_answers_the_sse_event_sequence() {
    let (public, _, _p) = loaded(None).await;
    let (status, headers, body) = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", true))).await;
    assert_eq!(
        (status, &headers["content-type"]),
        (StatusCode::OK, &"text/event-stream".parse::<axum::http::HeaderValue>().unwrap())
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "event: token\ndata: {\"text\":\"Hel\",\"sequence\":0}\n\n\
         event: token\ndata: {\"text\":\"lo\",\"sequence\":1}\n\n\
         event: usage\ndata: {\"input_tokens\":5,\"output_tokens\":2,\"total_tokens\":7}\n\n\
         event: done\ndata: {\"finish_reason\":\"stop\"}\n\n"
    );
}

#[tokio::test]
async fn every_refusal_has_its_status_and_code() {
    let (public, _, _p) = loaded(None).await;
    let big = json!({"model": "mock", "prompt": "x".repeat(4096)});
    let cases: Vec<(Request<Body>, u16, &str, &str)> = vec![
        (post_json("/v1/chat", None, &chat_body("mock", false)), 401, "authentication", "missing bearer token"),
        (
            post_json("/v1/chat", Some("wrong-token-00"), &chat_body("mock", false)),
            401,
            "authentication",
            "invalid bearer token",
        ),
        (
            post_json("/v1/chat", Some(TOKEN_B), &chat_body("mock", false)),
            403,
            "authorization",
            "not allowed to access target",
        ),
        (
            post_json("/v1/chat", Some(TOKEN_A), &chat_body("nowhere", false)),
            404,
            "not_found",
            "target `nowhere` is not configured",
        ),
        (
            post_json("/v1/query", Some(TOKEN_A), &json!({"model": "mock"})),
            400,
            "invalid_request",
            "query needs `prompt`",
        ),
        (
            post_json("/v1/query", Some(TOKEN_A), &json!({"model": "mock", "prompt": "x", "grammar": "g"})),
            400,
            "invalid_request",
            "local-only",
        ),
        (post_json("/v1/query", Some(TOKEN_A), &big), 413, "payload_too_large", "max_request_bytes (2048)"),
        (
            post_json("/v1/query", Some(TOKEN_A), &json!({"model": "mock", "prompt": "x", "priority": "low"})),
            400,
            "invalid_request",
            "unsupported request fields: priority",
        ),
        (post_json("/v1/chat", Some(TOKEN_A), &chat_body("fail", false)), 502, "upstream_error", "upstream exploded"),
    ];
    for (req, status, code, says) in cases {
        let (s, headers, body) = call(&public, req).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((s.as_u16(), v["error"]["code"].as_str().unwrap()), (status, code), "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(says), "{v}");
        assert_eq!(headers["content-type"], "application/json");
        assert!(headers.contains_key("x-request-id"));
    }
    let (s, _, body) = call(
        &public,
        Request::post("/v1/chat")
            .header("authorization", format!("Bearer {TOKEN_A}"))
            .body(Body::from("{oops"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn admission_holds_its_place_until_the_stream_ends() {
    let (public, management, _p) = loaded(Some(1)).await;
    let open = public.clone().oneshot(post_json("/v1/chat", Some(TOKEN_A), &chat_body("stall", true))).await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let (s, headers, body) = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await;
    assert_eq!((s.as_u16(), &headers["retry-after"]), (429, &"1".parse::<axum::http::HeaderValue>().unwrap()));
    assert!(String::from_utf8_lossy(&body).contains("max_concurrent_requests"));
    let (_, _, metrics) = call(&management, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("sipp_gateway_in_flight_requests 1"), "{metrics}");
    assert!(metrics.contains("sipp_gateway_rejections_total{reason=\"overloaded\"} 1"), "{metrics}");
    drop(open); // the client goes away: the stream, its run and its place are released
    let (s, _, _) = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn readiness_flips_once_targets_are_loaded() {
    let (public, management, mut prepared) = gateway(None).await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    assert_eq!(call(&management, get("/healthz")).await.2, b"ok");
    let (s, _, body) = call(&management, get("/readyz")).await;
    assert_eq!((s, body.as_slice()), (StatusCode::SERVICE_UNAVAILABLE, &b"loading"[..]));
    let (s, headers, _) = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await;
    assert_eq!((s.as_u16(), headers.get("retry-after").is_some()), (503, true));
    load_targets(&prepared.state, std::mem::take(&mut prepared.descriptors)).await.unwrap();
    let (s, _, body) = call(&management, get("/readyz")).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, &b"ready"[..]));
    let (_, _, index) = call(&management, get("/")).await;
    let index: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!((index["ready"].as_bool(), index["targets"].as_array().map(Vec::len)), (Some(true), Some(5)));
    // Management routes are not on the public listener, and inference is not on management.
    assert_eq!(call(&public, get("/metrics")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&management, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn metrics_count_requests_errors_and_tokens() {
    let (public, management, _p) = loaded(None).await;
    call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false))).await;
    call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", true))).await;
    call(&public, post_json("/v1/chat", Some(TOKEN_B), &chat_body("mock", false))).await;
    let (_, headers, text) = call(&management, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(text).unwrap();
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    for line in [
        "sipp_gateway_requests_total{operation=\"chat\",status=\"200\"} 2",
        "sipp_gateway_requests_total{operation=\"chat\",status=\"403\"} 1",
        "sipp_gateway_errors_total{operation=\"chat\",code=\"authorization\"} 1",
        "sipp_gateway_rejections_total{reason=\"forbidden\"} 1",
        "sipp_gateway_input_tokens_total 10",
        "sipp_gateway_output_tokens_total 4",
        "sipp_gateway_in_flight_requests 0",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
}

#[tokio::test]
async fn missing_secrets_stop_startup_naming_the_variable() {
    let upstream = mock_upstream().await;
    let lookup = |n: &str| if n == "TOKEN_B" { Some("has space".to_string()) } else { env(n) };
    let e = prepare(config(&upstream, None), &lookup).unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("tokens[1].env") && text.contains("TOKEN_B contains whitespace") && !text.contains("has space"),
        "{text}"
    );
    let lookup = |n: &str| if n == "UPSTREAM_TOKEN" { None } else { env(n) };
    let e = format!("{:#}", prepare(config(&upstream, None), &lookup).unwrap_err());
    assert!(e.contains("target `mock`") && e.contains("UPSTREAM_TOKEN is not set"), "{e}");
}

#[tokio::test]
async fn cors_only_when_origins_are_configured() {
    let upstream = mock_upstream().await;
    let preflight = || {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/chat")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .body(Body::empty())
            .unwrap()
    };
    let mut config = config(&upstream, None);
    config.allowed_origins = vec!["https://app.example.com".into()];
    let with = public_app(prepare(config, &env).unwrap().state);
    let (status, headers, _) = call(&with, preflight()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
    assert!(headers["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    let mut other = preflight();
    other.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    assert!(call(&with, other).await.1.get("access-control-allow-origin").is_none());

    let without = public_app(prepare(self::config(&upstream, None), &env).unwrap().state);
    let (_, headers, _) = call(&without, preflight()).await;
    assert!(headers.get("access-control-allow-origin").is_none(), "no CORS layer without allowed_origins");
}

fn rate_limited(upstream: &str, source: &str) -> Prepared {
    let mut c = config(upstream, None);
    c.security.rate_limit =
        sipp_gateway_server::config::RateLimitConfig { enabled: true, requests_per_minute: 1, burst: 5 };
    c.security.client_ip = sipp_gateway_server::config::ClientIpConfig {
        source: match source {
            "x_forwarded_for" => sipp_gateway_server::config::ClientIpSource::XForwardedFor,
            _ => sipp_gateway_server::config::ClientIpSource::Peer,
        },
        trusted_proxy_cidrs: vec!["10.0.0.0/8".into()],
    };
    prepare(c, &env).unwrap()
}

fn from(peer: &str, xff: Option<&str>) -> Request<Body> {
    let mut r = post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false));
    r.extensions_mut()
        .insert(axum::extract::ConnectInfo(format!("{peer}:40000").parse::<std::net::SocketAddr>().unwrap()));
    if let Some(v) = xff {
        r.headers_mut().insert("x-forwarded-for", v.parse().unwrap());
    }
    r
}

#[tokio::test]
async fn the_rate_limit_is_exact_under_concurrency() {
    let upstream = mock_upstream().await;
    let mut prepared = rate_limited(&upstream, "peer");
    load_targets(&prepared.state, std::mem::take(&mut prepared.descriptors)).await.unwrap();
    let app = public_app(Arc::clone(&prepared.state));
    let calls = (0..64).map(|_| {
        let app = app.clone();
        async move { app.oneshot(from("192.0.2.1", None)).await.unwrap() }
    });
    let responses = futures_util::future::join_all(calls).await;
    let passed = responses.iter().filter(|r| r.status() == StatusCode::OK).count();
    let limited: Vec<_> = responses.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!((passed, limited.len()), (5, 59), "burst 5 of 64 concurrent requests");
    assert!(limited.iter().all(|r| r.headers().get("retry-after").is_some()));
    // Another client has its own bucket.
    assert_eq!(app.clone().oneshot(from("192.0.2.2", None)).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let upstream = mock_upstream().await;
    let mut prepared = rate_limited(&upstream, "x_forwarded_for");
    load_targets(&prepared.state, std::mem::take(&mut prepared.descriptors)).await.unwrap();
    let app = public_app(Arc::clone(&prepared.state));
    // An untrusted peer claiming a new address per request still drains its own bucket.
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(
            app.clone().oneshot(from("192.0.2.9", Some(&format!("198.51.100.{i}")))).await.unwrap().status().as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    // Behind a trusted proxy, each forwarded client has its own bucket.
    for i in 0..6 {
        let s = app.clone().oneshot(from("10.0.0.1", Some(&format!("203.0.113.{i}")))).await.unwrap().status();
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn correlation_header_carries_the_request_id_upstream() {
    let upstream = mock_upstream().await;
    let mut c = config(&upstream, None);
    if let sipp_gateway_server::config::TargetConfig::OpenaiCompatible(t) = &mut c.targets[0] {
        t.correlation_header = Some("x-trace-id".into());
    }
    let mut prepared = prepare(c, &env).unwrap();
    load_targets(&prepared.state, std::mem::take(&mut prepared.descriptors)).await.unwrap();
    let public = public_app(Arc::clone(&prepared.state));
    let mut req = post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", false));
    req.headers_mut().insert("x-request-id", "trace-me-1".parse().unwrap());
    let (_, _, body) = call(&public, req).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["text"], "Hello trace-me-1");
    // A generated id travels too, the same one the caller gets back.
    let req = post_json("/v1/chat/completions", Some(TOKEN_A), &chat_body("mock", false));
    let (_, headers, body) = call(&public, req).await;
    let id = headers["x-request-id"].to_str().unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], format!("Hello {id}"));
    // Targets without the setting send nothing.
    let (_, _, body) = call(&public, post_json("/v1/chat", Some(TOKEN_B), &chat_body("other", false))).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["text"], "Hello");
}
