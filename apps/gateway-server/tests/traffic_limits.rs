//! Traffic limits counted in one gateway's memory (no `[state]`), through the real
//! accept loop: worst-case reservations with refunds (finished, cancelled), 429s with
//! `Retry-After` and the OpenAI-style `x-ratelimit-*` headers, requests that can never
//! fit, per-target limits, the local target's exact prompt count, and `/metrics`.

mod harness;

use harness::{post, Running};
use serde_json::{json, Value};
use std::time::Duration;

/// The harness's caller with `limits` lines in its `[[tokens]]` entry; `extra` after
/// the targets (e.g. the last target's `[targets.limits]`).
async fn gateway(upstream: &str, targets: &[&str], limits: &str, extra: &str) -> Running {
    let (text, public, management) = harness::config_text(upstream, targets, "", extra);
    let text = text.replace("caller = \"harness\"\n", &format!("caller = \"harness\"\n{limits}\n"));
    harness::start(&text, public, management).await
}

/// An OpenAI chat request whose worst case on a remote target is `16 + content bytes
/// + max_tokens` tokens.
fn chat(model: &str, content: &str, max_tokens: u32, stream: bool) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, "stream": stream})
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_routes_carry_rate_limit_headers_and_429s_say_when() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, &["ok"], "tokens_per_minute = 1000\nrequests_per_minute = 3", "").await;
    // 16 + 4 + 80 = 100 reserved; the upstream reports 5 + 2 used.
    let (status, h, body) = post(&gw, "/v1/chat/completions", &chat("ok", "abcd", 80, false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&h, "x-ratelimit-limit-tokens"), "1000");
    assert_eq!(header(&h, "x-ratelimit-remaining-tokens"), "900", "the worst case is taken at admission");
    assert_eq!(header(&h, "x-ratelimit-limit-requests"), "3");
    assert_eq!(header(&h, "x-ratelimit-remaining-requests"), "2");
    assert!(header(&h, "x-ratelimit-reset-tokens").ends_with('s'), "{h:?}");
    // The unused 93 came back when it ended: the next admission leaves 1000 - 7 - 100
    // (plus what refilled meanwhile, under 17 tokens a second).
    let (_, h, _) = post(&gw, "/v1/chat/completions", &chat("ok", "abcd", 80, false)).await;
    let left: u64 = header(&h, "x-ratelimit-remaining-tokens").parse().unwrap();
    assert!((893..900).contains(&left), "refunded to the usage: {left}");
    post(&gw, "/v1/chat/completions", &chat("ok", "abcd", 80, false)).await;
    let (status, h, body) = post(&gw, "/v1/chat/completions", &chat("ok", "abcd", 80, false)).await;
    assert_eq!(status, 429, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("caller `harness` is over its requests_per_minute"), "{message}");
    let retry: u64 = header(&h, "retry-after").parse().unwrap();
    assert!((1..=20).contains(&retry), "one request at 3/min refills in 20 s: {retry}");
    let metric =
        gw.metric("sipp_gateway_limited_total{scope=\"caller\",name=\"harness\",limit=\"requests_per_minute\"}");
    assert_eq!(metric.await, 1.0);
    let text = gw.metrics().await;
    assert!(
        text.contains("sipp_gateway_limit{scope=\"caller\",name=\"harness\",limit=\"tokens_per_minute\"} 1000"),
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_can_never_fit_is_a_400_not_a_wait() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, &["ok"], "tokens_per_minute = 100", "").await;
    let (status, h, body) = post(
        &gw,
        "/v1/chat",
        &json!({"model": "ok", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 200}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(h.get("retry-after").is_none());
    assert!(body.contains("more than caller `harness`'s whole tokens_per_minute (100)"), "{body}");
    gw.stop().await;
}

/// A stream cancelled by its client after one chunk pays for its prompt and that chunk;
/// the rest of its reservation comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_stream_gets_its_unused_tokens_back() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, &["stall", "ok"], "tokens_per_minute = 1000", "").await;
    // 16 + 1 + 500 reserved.
    let mut r = harness::send(&gw, "/v1/chat/completions", &chat("stall", "x", 500, true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "x-ratelimit-remaining-tokens"), "483");
    let first = tokio::time::timeout(Duration::from_secs(10), r.chunk()).await.unwrap().unwrap();
    assert!(first.is_some_and(|c| String::from_utf8_lossy(&c).contains("Hel")));
    drop(r);
    // 17 + 1 charged: a request reserving 900 fits again (it would not with 483 left).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = post(&gw, "/v1/chat/completions", &chat("ok", "x", 883, false)).await;
        if status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the reservation did not come back: {status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.stop().await;
}

/// `[targets.limits]`: the target's own budget, whoever calls; its 429 names the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limits_count_every_caller() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, &["ok"], "", "[targets.limits]\nrequests_per_minute = 2\n").await;
    for _ in 0..2 {
        assert_eq!(post(&gw, "/v1/chat", &harness::chat("ok", false)).await.0, 200);
    }
    let (status, h, body) = post(&gw, "/v1/chat", &harness::chat("ok", false)).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("target `ok` is over its requests_per_minute"), "{body}");
    assert!(h.get("retry-after").is_some());
    assert!(h.get("x-ratelimit-limit-requests").is_none(), "the Sipp profile has no OpenAI headers");
    gw.stop().await;
}

/// A local target's prompt is counted by its own tokenizer and chat template, and a
/// request without `max_tokens` reserves the rest of the context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_targets_prompt_is_counted_exactly() {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let gw = gateway(&upstream, &["ok"], "tokens_per_minute = 100000", &harness::local_target(512)).await;
    let request = json!({"model": "local", "messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 8, "temperature": 0});
    let (status, h, body) = post(&gw, "/v1/chat/completions", &request).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap();
    let left: u64 = header(&h, "x-ratelimit-remaining-tokens").parse().unwrap();
    assert_eq!(left, 100_000 - prompt - 8, "prompt {prompt} + max_tokens 8");
    let request =
        json!({"model": "local", "messages": [{"role": "user", "content": "Name a colour."}], "temperature": 0});
    let (status, h, body) = harness::post(&gw, "/v1/chat/completions", &request).await;
    assert_eq!(status, 200, "{body}");
    let left_after: u64 = header(&h, "x-ratelimit-remaining-tokens").parse().unwrap();
    // What the first used came back; the second reserved prompt + (512 - prompt).
    let used = prompt + v["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((100_000 - used - 512..=100_000 - used - 512 + 100).contains(&left_after), "{left_after}");
    gw.stop().await;
}
