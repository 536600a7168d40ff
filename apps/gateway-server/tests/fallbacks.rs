//! `fallbacks = [...]` per target through the real gateway: a target that cannot start
//! a request (an upstream's 429 or 503, a failed connection, its own traffic limit)
//! hands it to the next target in order, before any byte reached the client; a stream
//! that started fails with a typed error and is never retried; a bad request is not
//! retried either. The answer, the log and `/metrics` say who served.

mod harness;

use harness::{post, Running};
use serde_json::Value;

/// Targets `ok`, `status-429`, `status-503`, `status-422`, `reset`, plus `dead` (a port
/// nothing listens on) and `ok-limited` (one request a minute), each with `fallbacks`.
async fn start(upstream: &str) -> Running {
    let targets = ["ok", "status-429", "status-503", "status-422", "reset", "late-reset"];
    let extra = r#"
[[targets]]
name = "dead"
type = "openai_compatible"
model = "ok"
base_url = "http://127.0.0.1:1/v1"
token_env = "H_UPSTREAM"
fallbacks = ["ok"]
[[targets]]
name = "ok-limited"
type = "openai_compatible"
model = "ok"
base_url = "@URL@"
token_env = "H_UPSTREAM"
fallbacks = ["ok"]
[targets.limits]
requests_per_minute = 1
"#
    .replace("@URL@", upstream);
    let (text, public, management) = harness::config_text(upstream, &targets, "", &extra);
    let text = text
        .replace("name = \"status-429\"\n", "name = \"status-429\"\nfallbacks = [\"status-503\", \"ok\"]\n")
        .replace("name = \"status-503\"\n", "name = \"status-503\"\nfallbacks = [\"ok\"]\n")
        .replace("name = \"status-422\"\n", "name = \"status-422\"\nfallbacks = [\"ok\"]\n")
        .replace("name = \"reset\"\n", "name = \"reset\"\nfallbacks = [\"ok\"]\n")
        .replace("name = \"late-reset\"\n", "name = \"late-reset\"\nfallbacks = [\"ok\"]\n");
    harness::start(&text, public, management).await
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_unavailable_and_transport_failures_go_down_the_list() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = start(&upstream).await;
    for stream in [false, true] {
        let (status, h, body) = post(&gw, "/v1/chat", &harness::chat("status-429", stream)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (header(&h, "x-sipp-target"), header(&h, "x-sipp-fallback-from")),
            ("ok".into(), "status-429".into())
        );
        assert!(body.contains("Hello") || body.contains("Hel"), "{body}");
    }
    let line = |from: &str, to: &str, reason: &str| {
        format!("sipp_gateway_fallbacks_total{{from=\"{from}\",to=\"{to}\",reason=\"{reason}\"}}")
    };
    assert_eq!(gw.metric(&line("status-429", "status-503", "upstream_overloaded")).await, 2.0);
    assert_eq!(gw.metric(&line("status-503", "ok", "upstream_unavailable")).await, 2.0);
    let (status, h, body) = post(&gw, "/v1/chat/completions", &harness::chat("dead", false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&h, "x-sipp-target"), "ok");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["model"], "ok", "the OpenAI answer names the target that served");
    assert_eq!(gw.metric(&line("dead", "ok", "upstream_connection")).await, 1.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targets_own_limit_hands_on_but_a_bad_request_does_not() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = start(&upstream).await;
    let (status, h, _) = post(&gw, "/v1/chat", &harness::chat("ok-limited", false)).await;
    assert_eq!((status, header(&h, "x-sipp-target")), (200, "ok-limited".into()));
    let (status, h, body) = post(&gw, "/v1/chat", &harness::chat("ok-limited", false)).await;
    assert_eq!((status, header(&h, "x-sipp-target")), (200, "ok".into()), "{body}");
    let (status, h, body) = post(&gw, "/v1/chat", &harness::chat("status-422", false)).await;
    assert_eq!(status, 400, "the caller's own mistake is not retried elsewhere: {body}");
    assert_eq!(header(&h, "x-sipp-target"), "status-422");
    gw.stop().await;
}

/// `late-reset` sends one chunk and breaks 300 ms later: the client has seen output, so
/// the stream ends with a typed `error` event, and no other target is asked. `reset`
/// breaks before its chunk could go out: nothing reached the client, so `ok` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_started_is_never_retried() {
    let (upstream, seen) = harness::faulty_upstream(None).await;
    let gw = start(&upstream).await;
    let before = seen.authorizations.lock().unwrap().len();
    let (status, h, body) = post(&gw, "/v1/chat", &harness::chat("late-reset", true)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-sipp-target"), "late-reset");
    assert!(body.contains("Hel") && body.contains("event: error"), "{body}");
    assert!(body.contains("upstream_connection") && !body.contains("Hello"), "no second answer was spliced in: {body}");
    assert_eq!(seen.authorizations.lock().unwrap().len(), before + 1, "only `late-reset` was called");
    assert!(!gw.metrics().await.contains("from=\"late-reset\""));
    let (status, h, body) = post(&gw, "/v1/chat", &harness::chat("reset", true)).await;
    assert_eq!((status, header(&h, "x-sipp-target")), (200, "ok".into()), "{body}");
    assert!(!body.contains("event: error"), "{body}");
    gw.stop().await;
}
