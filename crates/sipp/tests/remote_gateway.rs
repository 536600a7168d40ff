//! Gateway endpoints against a loopback mock: the first-party profile bytes for each
//! operation, authentication variants, typed errors per status, SSE replays (split
//! frames, mid-stream errors, stalls), retries of requests that did not run, and cancel
//! closing the upstream connection.

mod mock;

use futures_util::StreamExt;
use mock::{MockServer, Reply};
use serde_json::json;
use sipp::engine::{ChatMessage, ChatRole};
use sipp::{
    AuthenticationKind, EndpointRef, FinishReason, GatewayAuthentication, GatewayDescriptor, GatewayRoutes, Secret,
    SippChatRequest, SippClient, SippEmbedRequest, SippError, SippQueryRequest, SippTextOptions, StaticHeader, Usage,
    ValueProvider,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "gw-token-0123456789";

fn descriptor(mock: &MockServer) -> GatewayDescriptor {
    GatewayDescriptor::new("local", mock.url()).with_authentication(GatewayAuthentication::bearer(TOKEN))
}

async fn gateway(client: &SippClient, d: GatewayDescriptor) -> EndpointRef {
    client.add("gw", d).await.expect("add gateway")
}

fn query(ep: &EndpointRef, emit_tokens: bool) -> SippQueryRequest {
    SippQueryRequest {
        endpoint: Some(ep.clone()),
        prompt: "Explain gateway inference in one sentence.".into(),
        options: SippTextOptions { max_tokens: Some(64), temperature: Some(0.2), ..Default::default() },
        emit_tokens,
        ..Default::default()
    }
}

fn text_answer() -> serde_json::Value {
    json!({"id": "response", "model": "local", "text": "A gateway centralizes inference.", "finish_reason": "stop",
           "usage": {"input_tokens": 8, "output_tokens": 12, "total_tokens": 20}})
}

const STREAM: [&str; 5] = [
    "event: token\ndata: {\"text\":\"Gateways\",\"sequence\":0}\n\n",
    "event: token\ndata: {\"text\":\" route.\",\"sequence\":1}\n\n",
    ": keep-alive\n\n",
    "event: usage\ndata: {\"input_tokens\":8,\"output_tokens\":2,\"total_tokens\":10}\n\n",
    "event: done\ndata: {\"finish_reason\":\"stop\"}\n\n",
];

#[tokio::test]
async fn query_sends_the_profile_body_the_testing_page_shows() {
    let mock = MockServer::start(vec![Reply::json(200, text_answer())]).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    assert_eq!(ep.kind, sipp::EndpointKind::Gateway);
    let r = client.query(query(&ep, false)).await.unwrap();
    assert_eq!((r.text.as_str(), r.finish_reason), ("A gateway centralizes inference.", FinishReason::Stop));
    assert_eq!(r.usage, Some(Usage { input_tokens: 8, output_tokens: 12, total_tokens: 20 }));
    let req = mock.only_request();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/query"));
    assert_eq!(req.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!({"model": "local", "prompt": "Explain gateway inference in one sentence.", "max_tokens": 64, "temperature": 0.2})
    );
}

#[tokio::test]
async fn chat_streams_token_usage_done_events_even_when_split() {
    let mock = MockServer::start(vec![Reply::sse_split(&STREAM, 5)]).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    let request = SippChatRequest {
        endpoint: Some(ep),
        messages: vec![
            ChatMessage::new(ChatRole::System, "Answer briefly."),
            ChatMessage::new(ChatRole::User, "What does the gateway own?"),
        ],
        options: SippTextOptions {
            max_tokens: Some(64),
            stop: vec!["END".into()],
            seed: Some(3),
            ..Default::default()
        },
        emit_tokens: true,
        ..Default::default()
    };
    let mut run = client.chat(request);
    let mut texts = Vec::new();
    while let Some(b) = run.next().await {
        texts.push(b.unwrap().text);
    }
    assert_eq!(texts, ["Gateways", " route."]);
    let r = run.response().await.unwrap();
    assert_eq!(r.text, "Gateways route.");
    assert_eq!(r.usage.unwrap().total_tokens, 10);
    let req = mock.only_request();
    assert_eq!(req.path, "/v1/chat");
    assert_eq!(req.header("accept"), Some("text/event-stream"));
    assert_eq!(
        req.json(),
        json!({"model": "local", "messages": [{"role": "system", "content": "Answer briefly."},
               {"role": "user", "content": "What does the gateway own?"}],
               "max_tokens": 64, "stop": ["END"], "seed": 3, "stream": true})
    );
}

#[tokio::test]
async fn embed_sends_model_and_input() {
    let mock = MockServer::start(vec![Reply::json(
        200,
        json!({"id": "response", "model": "local", "embedding": [0.0123, -0.0456]}),
    )])
    .await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    let r =
        client.embed(SippEmbedRequest { endpoint: Some(ep), input: "gateway inference".into(), ..Default::default() });
    let r = r.await.unwrap();
    assert_eq!(r.values, [0.0123, -0.0456]);
    assert!(!r.normalized && r.usage.is_none());
    let req = mock.only_request();
    assert_eq!(req.path, "/v1/embed");
    assert_eq!(req.json(), json!({"model": "local", "input": "gateway inference"}));
}

#[tokio::test]
async fn routes_headers_and_option_buckets() {
    let mock = MockServer::start(vec![Reply::json(200, text_answer())]).await;
    let client = SippClient::new();
    let mut d = GatewayDescriptor::new("t", format!("{}/gw/", mock.url()))
        .with_authentication(GatewayAuthentication::header("x-gateway-key", TOKEN));
    d.routes = GatewayRoutes { query: "/q".into(), ..GatewayRoutes::default() };
    d.static_headers = vec![StaticHeader::new("x-tenant", "acme")];
    d.protocol_options = json!({"priority": "low", "tag": "a"}).as_object().unwrap().clone();
    let ep = gateway(&client, d).await;
    let mut request = query(&ep, false);
    request.endpoint_options = json!({"tag": "b"}).as_object().unwrap().clone();
    client.query(request).await.unwrap();
    let req = mock.only_request();
    assert_eq!(req.path, "/gw/q");
    assert_eq!(req.header("x-gateway-key"), Some(TOKEN));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("x-tenant"), Some("acme"));
    let body = req.json();
    assert_eq!(
        (&body["priority"], &body["tag"]),
        (&json!("low"), &json!("b")),
        "endpoint_options win over protocol_options"
    );

    let mut request = query(&ep, false);
    request.endpoint_options = json!({"max_tokens": 5}).as_object().unwrap().clone();
    assert!(client.query(request).await.unwrap_err().to_string().contains("endpoint_options may not set `max_tokens`"));
    let mut request = query(&ep, false);
    request.provider_options = json!({"x": 1}).as_object().unwrap().clone();
    assert!(client.query(request).await.unwrap_err().to_string().contains("provider_options"));

    let mut bad = GatewayDescriptor::new("t", mock.url());
    bad.protocol_options = json!({"stream": false}).as_object().unwrap().clone();
    assert!(client.add("bad", bad).await.unwrap_err().to_string().contains("protocol_options may not set `stream`"));
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn authentication_is_checked_at_add() {
    let client = SippClient::new();
    let url = "http://127.0.0.1:9";
    let cases = [
        (GatewayAuthentication { kind: AuthenticationKind::Bearer, ..Default::default() }, "needs a value"),
        (
            GatewayAuthentication {
                kind: AuthenticationKind::Header,
                value: Some(Secret::new("v")),
                ..Default::default()
            },
            "needs header_name",
        ),
        (
            GatewayAuthentication {
                kind: AuthenticationKind::None,
                value: Some(Secret::new("v")),
                ..Default::default()
            },
            "takes no value",
        ),
    ];
    for (auth, says) in cases {
        let e = client.add("g", GatewayDescriptor::new("t", url).with_authentication(auth)).await.unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert!(e.to_string().contains(says), "{e}");
    }
    let e = client.add("g", GatewayDescriptor::new("t", "127.0.0.1:8080")).await.unwrap_err();
    assert!(e.to_string().contains("not an absolute URL"), "{e}");
    let e = client.add("g", GatewayDescriptor::new("t", "localhost:8080")).await.unwrap_err();
    assert!(e.to_string().contains("must be http:// or https://"), "{e}");
}

#[tokio::test]
async fn a_value_provider_is_asked_before_every_request() {
    let mock = MockServer::start(vec![Reply::json(200, text_answer()), Reply::json(200, text_answer())]).await;
    let client = SippClient::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let provider = ValueProvider::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { Ok(Secret::new(format!("short-lived-{n}"))) }
    });
    let auth = GatewayAuthentication::provided(AuthenticationKind::Bearer, None, provider);
    let ep = gateway(&client, GatewayDescriptor::new("local", mock.url()).with_authentication(auth)).await;
    client.query(query(&ep, false)).await.unwrap();
    client.query(query(&ep, false)).await.unwrap();
    let seen: Vec<_> = mock.requests().iter().map(|r| r.header("authorization").unwrap().to_string()).collect();
    assert_eq!(seen, ["Bearer short-lived-0", "Bearer short-lived-1"]);

    let failing = ValueProvider::new(|| async { Err("vault is sealed".to_string()) });
    let auth = GatewayAuthentication::provided(AuthenticationKind::Bearer, None, failing);
    let ep = gateway(&client, GatewayDescriptor::new("local", mock.url()).with_authentication(auth)).await;
    let e = client.query(query(&ep, false)).await.unwrap_err();
    assert_eq!(e.code(), "authentication");
    assert!(e.to_string().contains("value provider failed: vault is sealed"), "{e}");
    assert_eq!(mock.requests().len(), 2, "nothing sent without a credential");
}

#[tokio::test]
async fn each_error_status_is_its_own_typed_error() {
    let cases: [(u16, &str, &str); 7] = [
        (400, "invalid_request", "invalid_request"),
        (401, "authentication", "authentication"),
        (403, "authorization", "authorization"),
        (404, "not_found", "not_found"),
        (413, "payload_too_large", "payload_too_large"),
        (429, "overloaded", "overloaded"),
        (500, "execution", "execution"),
    ];
    let replies = cases
        .iter()
        .map(|(status, code, _)| {
            let r = Reply::json(*status, json!({"error": {"code": code, "message": format!("refused with {status}")}}));
            if *status == 429 {
                r.with_header("retry-after", "7")
            } else {
                r
            }
        })
        .collect();
    let mock = MockServer::start(replies).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    for (status, upstream, code) in cases {
        let e = client.query(query(&ep, false)).await.unwrap_err();
        assert_eq!((e.code(), e.http_status()), (code, status), "{e}");
        let SippError::Remote { status: s, upstream_code, retry_after_secs, message, .. } = &e else { panic!("{e:?}") };
        assert_eq!(
            (*s, upstream_code.as_deref(), message.as_str()),
            (Some(status), Some(upstream), format!("refused with {status}").as_str())
        );
        assert_eq!(*retry_after_secs, (status == 429).then_some(7));
        assert_eq!(e.to_string(), format!("endpoint `gw`: HTTP {status}: refused with {status}"));
    }
}

#[tokio::test]
async fn an_error_event_after_tokens_fails_the_run_where_the_caller_iterates() {
    let frames =
        [STREAM[0], "event: error\ndata: {\"error\":{\"code\":\"execution\",\"message\":\"decode failed\"}}\n\n"];
    let mock = MockServer::start(vec![Reply::sse(&frames)]).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    let mut run = client.query(query(&ep, true));
    assert_eq!(run.next().await.unwrap().unwrap().text, "Gateways");
    let e = run.next().await.unwrap().unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), ("execution", "endpoint `gw`: decode failed"));
    assert!(run.next().await.is_none());
}

#[tokio::test]
async fn a_stream_that_stops_before_done_is_an_error_not_a_short_answer() {
    let mock = MockServer::start(vec![Reply::sse(&STREAM[..2])]).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    let e = client.query(query(&ep, true)).await.unwrap_err();
    assert_eq!(e.code(), "protocol");
    assert!(e.to_string().contains("ended before its final event, after 15 characters"), "{e}");
}

#[tokio::test]
async fn a_stalled_stream_fires_the_idle_timeout() {
    let stall = Reply::Stream { pieces: vec![STREAM[0].into()], pause: Duration::ZERO, stall: true };
    let mock = MockServer::start(vec![stall]).await;
    let client = SippClient::new();
    let mut d = descriptor(&mock);
    d.timeouts.idle_ms = Some(250);
    let ep = gateway(&client, d).await;
    let started = Instant::now();
    let mut run = client.query(query(&ep, true));
    assert_eq!(run.next().await.unwrap().unwrap().text, "Gateways");
    let e = run.next().await.unwrap().unwrap_err();
    assert_eq!(e.code(), "timeout");
    assert!(e.to_string().contains("stream idle timed out after 250 ms (timeouts.idle_ms)"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    mock.wait_hangup(Duration::from_secs(2)).await;
}

/// A gateway that streams one token, then holds the connection open in silence; the run
/// has read that token.
async fn streaming_then_silent(client: &SippClient) -> (MockServer, EndpointRef, sipp::SippTextRun) {
    let stall = Reply::Stream { pieces: vec![STREAM[0].into()], pause: Duration::ZERO, stall: true };
    let mock = MockServer::start(vec![stall]).await;
    let ep = gateway(client, descriptor(&mock)).await;
    let mut run = client.query(query(&ep, true));
    assert_eq!(run.next().await.unwrap().unwrap().text, "Gateways");
    (mock, ep, run)
}

#[tokio::test]
async fn cancel_mid_stream_closes_the_upstream_connection() {
    let client = SippClient::new();
    let (mock, _, run) = streaming_then_silent(&client).await;
    run.cancel("user stopped");
    let r = run.response().await.unwrap();
    assert_eq!((r.text.as_str(), r.finish_reason), ("Gateways", FinishReason::Cancelled));
    mock.wait_hangup(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn dropping_a_run_closes_the_upstream_connection() {
    let client = SippClient::new();
    let (mock, _, run) = streaming_then_silent(&client).await;
    drop(run);
    mock.wait_hangup(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn only_requests_that_did_not_run_are_retried() {
    let busy = || Reply::json(503, json!({"error": {"code": "unavailable", "message": "loading"}}));
    let limited =
        Reply::json(429, json!({"error": {"code": "overloaded", "message": "full"}})).with_header("retry-after", "0");
    let mock = MockServer::start(vec![busy(), limited, Reply::json(200, text_answer()), busy()]).await;
    let client = SippClient::new();
    let mut d = descriptor(&mock);
    d.retry.max_retries = 2;
    d.retry.backoff_ms = Some(10);
    let ep = gateway(&client, d).await;
    assert_eq!(client.query(query(&ep, false)).await.unwrap().text, "A gateway centralizes inference.");
    assert_eq!(mock.requests().len(), 3, "503 and 429+Retry-After were retried");

    // Off by default: the 503 comes straight back.
    let ep = gateway(&client, descriptor(&mock)).await;
    assert_eq!(client.query(query(&ep, false)).await.unwrap_err().code(), "unavailable");
    assert_eq!(mock.requests().len(), 4);

    // A Retry-After beyond the request deadline: the 429 itself comes back at once.
    let far = Reply::json(429, json!({"error": {"code": "overloaded", "message": "full"}}))
        .with_header("retry-after", "3600");
    let mock = MockServer::start(vec![far]).await;
    let mut d = descriptor(&mock);
    d.retry.max_retries = 1;
    d.timeouts.request_ms = Some(5_000);
    let ep = gateway(&client, d).await;
    let started = Instant::now();
    let e = client.query(query(&ep, false)).await.unwrap_err();
    assert_eq!((e.code(), started.elapsed() < Duration::from_secs(2)), ("overloaded", true), "{e}");
    assert!(matches!(e, SippError::Remote { retry_after_secs: Some(3600), .. }));

    // A 500 or a 429 without Retry-After may have run: never retried.
    let mock = MockServer::start(vec![
        Reply::json(500, json!({"error": {"code": "execution", "message": "boom"}})),
        Reply::json(429, json!({"error": {"code": "overloaded", "message": "full"}})),
    ])
    .await;
    let mut d = descriptor(&mock);
    d.retry.max_retries = 3;
    let ep = gateway(&client, d).await;
    assert_eq!(client.query(query(&ep, false)).await.unwrap_err().code(), "execution");
    assert_eq!(client.query(query(&ep, false)).await.unwrap_err().code(), "overloaded");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_and_retryable() {
    // Bind then drop: the port is closed for the duration of the test.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = SippClient::new();
    let mut d = GatewayDescriptor::new("local", format!("http://127.0.0.1:{port}"));
    d.retry = sipp::RetryPolicy { max_retries: 2, backoff_ms: Some(10) };
    let ep = gateway(&client, d).await;
    let started = Instant::now();
    let e = client.query(query(&ep, false)).await.unwrap_err();
    assert_eq!(e.code(), "transport");
    assert!(e.to_string().to_lowercase().contains("refused"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(30), "two backoffs of 10 and 20 ms");
}

#[tokio::test]
async fn tokens_stay_out_of_debug_and_serialized_descriptors() {
    let d = GatewayDescriptor::new("t", "http://127.0.0.1:9").with_authentication(GatewayAuthentication::bearer(TOKEN));
    assert!(!format!("{d:?}").contains(TOKEN));
    assert!(!serde_json::to_string(&d).unwrap().contains(TOKEN));
}

#[tokio::test]
async fn removing_the_endpoint_ends_its_requests_and_their_connections() {
    let client = SippClient::new();
    let (mock, ep, mut run) = streaming_then_silent(&client).await;
    assert!(client.remove(&ep));
    let e = run.next().await.unwrap().unwrap_err();
    assert_eq!(e.code(), "endpoint_closed");
    mock.wait_hangup(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn keep_alive_comments_hold_the_idle_deadline_open() {
    let mut pieces: Vec<String> = vec![STREAM[0].into()];
    pieces.extend(std::iter::repeat_n(": keep-alive\n\n".to_string(), 6));
    pieces.extend(STREAM[1..].iter().map(|f| f.to_string()));
    // 6 × 100 ms of comments: longer than the 250 ms idle deadline in total, never in one gap.
    let mock = MockServer::start(vec![Reply::Stream { pieces, pause: Duration::from_millis(100), stall: false }]).await;
    let client = SippClient::new();
    let mut d = descriptor(&mock);
    d.timeouts.idle_ms = Some(250);
    let ep = gateway(&client, d).await;
    let r = client.query(query(&ep, true)).await.unwrap();
    assert_eq!(r.text, "Gateways route.");
}

#[tokio::test]
async fn request_id_travels_as_x_request_id() {
    let mock = MockServer::start(vec![Reply::json(200, text_answer()), Reply::json(200, text_answer())]).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    client.query(SippQueryRequest { request_id: Some("trace-42".into()), ..query(&ep, false) }).await.unwrap();
    client.query(query(&ep, false)).await.unwrap();
    let sent: Vec<Option<String>> =
        mock.requests().iter().map(|r| r.header("x-request-id").map(String::from)).collect();
    assert_eq!(sent, [Some("trace-42".to_string()), None]);
    // Not a header value: refused before anything is sent.
    let e = client.query(SippQueryRequest { request_id: Some("bad\nid".into()), ..query(&ep, false) }).await;
    assert!(matches!(&e, Err(SippError::InvalidRequest(m)) if m.contains("request_id")), "{e:?}");
    assert_eq!(mock.requests().len(), 2);
}

/// A shared option added to `SippTextOptions` alone (`min_p`) is in the profile body the
/// gateway endpoint sends, and `endpoint_options` may not smuggle it past the typed field.
#[tokio::test]
async fn a_shared_option_travels_in_the_profile_body() {
    let mock = MockServer::start(vec![Reply::json(200, text_answer())]).await;
    let client = SippClient::new();
    let ep = gateway(&client, descriptor(&mock)).await;
    let mut request = query(&ep, false);
    request.options.min_p = Some(0.05);
    client.query(request.clone()).await.unwrap();
    assert_eq!(mock.only_request().json()["min_p"], json!(0.05));
    request.options.min_p = None;
    request.endpoint_options.insert("min_p".into(), json!(0.5));
    let e = client.query(request).await.unwrap_err();
    assert!(e.to_string().contains("endpoint_options may not set `min_p`"), "{e}");
}
