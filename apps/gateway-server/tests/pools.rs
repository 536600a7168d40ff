//! Target pools through the real gateway: prefix affinity keeps each agent's shared
//! system prompt on one member, round robin spreads, a member killed mid-run is ejected
//! (passively and by its probe) while no request that had not started is lost, a stream
//! it was serving fails with a typed error and is never retried, and callers are
//! authorized for the pool, not for its members.

mod harness;
mod members;

use harness::{post, Running};
use members::{Member, SLOW_STREAM};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A gateway whose pool `p` has members `m0`..`m2` on `members` (`pool` lines added to
/// the pool), and whose caller may use only `p`.
async fn gateway(members: &[Member], pool: &str) -> Running {
    let mut extra = String::new();
    for (i, m) in members.iter().enumerate() {
        extra += &format!(
            "[[targets]]\nname = \"m{i}\"\ntype = \"openai_compatible\"\nmodel = \"member\"\nbase_url = \"{}\"\ntoken_env = \"H_UPSTREAM\"\ntimeout_seconds = 5\n",
            m.url
        );
    }
    let names: Vec<String> = (0..members.len()).map(|i| format!("\"m{i}\"")).collect();
    extra += &format!("[[targets]]\nname = \"p\"\ntype = \"pool\"\nmembers = [{}]\n{pool}\n", names.join(", "));
    let (text, public, management) = harness::config_text("http://127.0.0.1:1/v1", &[], "", &extra);
    let text = text.replace("caller = \"harness\"\n", "caller = \"harness\"\ntargets = [\"p\"]\n");
    harness::start(&text, public, management).await
}

async fn members(n: usize) -> Vec<Member> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(Member::start(&format!("m{i}")).await);
    }
    out
}

fn chat(system: &str, user: &str, stream: bool) -> Value {
    json!({"model": "p", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
           "max_tokens": 8, "stream": stream})
}

fn served_by(h: &reqwest::header::HeaderMap) -> String {
    h.get("x-sipp-target").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_affinity_keeps_each_agent_on_one_member() {
    let m = members(3).await;
    let gw = gateway(&m, "affinity_prefix_chars = 256").await;
    let mut by_agent: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for round in 0..4 {
        for agent in 0..8 {
            let system = format!("You are agent {agent}. {}", "Follow the house rules. ".repeat(20));
            let (status, h, body) =
                post(&gw, "/v1/chat/completions", &chat(&system, &format!("task {round}"), false)).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(h["x-sipp-pool"], "p");
            let member = served_by(&h);
            assert!(body.contains(&format!("served-by-{member}")), "the header names who answered: {body}");
            by_agent.entry(agent).or_default().insert(member);
        }
    }
    assert!(by_agent.values().all(|s| s.len() == 1), "each agent stays on one member: {by_agent:?}");
    let used: BTreeSet<&String> = by_agent.values().flatten().collect();
    assert!(used.len() >= 2, "agents spread over the members: {by_agent:?}");
    let affine: f64 = {
        let mut sum = 0.0;
        for i in 0..3 {
            sum += gw
                .metric(&format!("sipp_gateway_pool_picks_total{{pool=\"p\",member=\"m{i}\",reason=\"affinity\"}}"))
                .await;
        }
        sum
    };
    assert_eq!(affine, 32.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_evenly() {
    let m = members(3).await;
    let gw = gateway(&m, "balance = \"round_robin\"\naffinity_prefix_chars = 0").await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..9 {
        let (status, h, _) = post(&gw, "/v1/chat", &chat("same system prompt", &format!("q{i}"), false)).await;
        assert_eq!(status, 200);
        *counts.entry(served_by(&h)).or_default() += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [3, 3, 3], "{counts:?}");
    gw.stop().await;
}

/// A member dies while it streams: that stream ends with a typed `error` event (its
/// output reached the client, so it is not retried); the requests after it all succeed
/// on the others, the dead member is retried around until it is ejected, and its probe
/// keeps it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_mid_run_is_ejected_and_no_unstarted_request_is_lost() {
    let m = members(3).await;
    let gw = gateway(
        &m,
        "affinity_prefix_chars = 0\neject_after_failures = 2\neject_seconds = 60\nhealth_check_seconds = 1",
    )
    .await;
    let mut slow = chat("s", "stream slowly", true);
    slow["max_tokens"] = json!(SLOW_STREAM);
    let mut r = harness::send(&gw, "/v1/chat/completions", &slow).await;
    assert_eq!(r.status(), 200);
    let victim = served_by(r.headers());
    let first = tokio::time::timeout(Duration::from_secs(5), r.chunk()).await.unwrap().unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains(&format!("served-by-{victim}")));
    let index: usize = victim[1..].parse().unwrap();
    m[index].kill();
    let rest = tokio::time::timeout(Duration::from_secs(10), r.text()).await.unwrap().unwrap();
    assert!(rest.contains("\"error\"") && rest.contains("upstream_connection"), "a typed error, in-band: {rest}");
    assert!(!rest.contains("served-by-"), "never retried on another member: {rest}");
    let before: u64 = m.iter().map(|x| x.served.load(std::sync::atomic::Ordering::Relaxed)).sum();
    for i in 0..12 {
        let (status, h, body) = post(&gw, "/v1/chat", &chat("s", &format!("after {i}"), i % 2 == 0)).await;
        assert_eq!(status, 200, "request {i}: {body}");
        assert_ne!(served_by(&h), victim, "{body}");
        assert!(!body.contains("event: error"), "{body}");
    }
    let after: u64 = m.iter().map(|x| x.served.load(std::sync::atomic::Ordering::Relaxed)).sum();
    assert_eq!(after - before, 12, "each request was answered once, by a live member");
    let up = format!("sipp_gateway_pool_member_up{{pool=\"p\",member=\"{victim}\"}}");
    assert_eq!(gw.metric(&up).await, 0.0);
    let text = gw.metrics().await;
    assert!(text.contains("sipp_gateway_pool_member_outstanding{pool=\"p\",member=\"m0\"} 0"), "{text}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_authorized_for_the_pool_not_its_members() {
    let m = members(2).await;
    let gw = gateway(&m, "").await;
    assert_eq!(post(&gw, "/v1/chat", &chat("s", "hi", false)).await.0, 200);
    let direct = json!({"model": "m0", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4});
    assert_eq!(post(&gw, "/v1/chat", &direct).await.0, 403, "a member is not the pool");
    let (status, _, body) = post(
        &gw,
        "/v1/chat",
        &json!({"model": "p", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
}
