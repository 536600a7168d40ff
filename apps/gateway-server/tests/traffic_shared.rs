//! Traffic limits shared by several `sipp-gateway` processes through one real Redis
//! (`[state]`): exact under concurrency across replicas, across a replica's restart and
//! crash, and with a policy that holds while Redis is away.

mod replicas;

use futures_util::future::join_all;
use replicas::{config, held_upstream, token, Redis, Replica};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Prompt 24 bytes + 16 per message (a remote target's prompt bound) + max_tokens 60:
/// every request reserves 100 tokens.
fn body(stream: bool) -> Value {
    json!({"model": "mock", "messages": [{"role": "user", "content": "x".repeat(24)}], "max_tokens": 60, "stream": stream})
}

/// A request to the target that answers at once.
fn quick() -> Value {
    json!({"model": "quick", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1})
}

struct Cluster {
    redis: Redis,
    replicas: Vec<Replica>,
    _dir: tempfile::TempDir,
}

async fn cluster(n: usize, hold_ms: u64, callers: &[(&str, &str)], state: &str) -> Cluster {
    let redis = Redis::start().await;
    let upstream = held_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let state =
        format!("[state]\nredis_url = \"{}\"\nkey_prefix = \"t{}:\"\n{state}\n", redis.url(), replicas::free_port());
    let mut replicas = Vec::new();
    for i in 0..n {
        let text = config(&upstream, hold_ms, callers, &state);
        replicas.push(Replica::start(dir.path(), &format!("r{i}"), &text).await);
    }
    Cluster { redis, replicas, _dir: dir }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcome {
    /// 0: the connection failed.
    status: u16,
    retry_after: Option<u64>,
    replica: usize,
}

/// `n` requests of caller `caller` at once, spread round-robin over `replicas`.
async fn wave(replicas: &[&Replica], caller: usize, n: usize, body: &Value) -> Vec<Outcome> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(90)).build().unwrap();
    let requests = (0..n).map(|i| {
        let (client, replica) = (client.clone(), i % replicas.len());
        let url = format!("{}/v1/chat/completions", replicas[replica].public);
        async move {
            match client
                .post(url)
                .bearer_auth(token(caller))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
            {
                Ok(r) => {
                    let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
                    let status = r.status().as_u16();
                    // The whole body: a stream's status is not its end.
                    let status = if r.bytes().await.is_ok() { status } else { 0 };
                    Outcome { status, retry_after, replica }
                }
                Err(_) => Outcome { status: 0, retry_after: None, replica },
            }
        }
    });
    join_all(requests).await
}

fn count(outcomes: &[Outcome], status: u16) -> usize {
    outcomes.iter().filter(|o| o.status == status).count()
}

fn all(c: &Cluster) -> Vec<&Replica> {
    c.replicas.iter().collect()
}

/// 64 clients over 3 replicas, a budget of 1,000 tokens/min and 100 reserved per
/// request: exactly 10 run, 54 get a 429 with `Retry-After`, five times over. Once the
/// first 10 have ended, the unused part of each (85) has come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_budget_is_exact_across_replicas() {
    let callers: Vec<(String, &str)> = (0..5).map(|i| (format!("budget-{i}"), "tokens_per_minute = 1000")).collect();
    let callers: Vec<(&str, &str)> = callers.iter().map(|(c, l)| (c.as_str(), *l)).collect();
    let c = cluster(3, 3_000, &callers, "").await;
    let mut refund_wave = Vec::new();
    for caller in 0..5 {
        let out = wave(&all(&c), caller, 64, &body(false)).await;
        if caller == 0 {
            // The 10 ended 3 s after they started and gave back 85 each: with what
            // 3-4 s refill (50-70), 9 more fit, where without refunds one would.
            refund_wave = wave(&all(&c), 0, 64, &body(false)).await;
        }
        assert_eq!((count(&out, 200), count(&out, 429)), (10, 54), "repetition {caller}: {out:?}");
        assert!(
            out.iter().filter(|o| o.status == 429).all(|o| o.retry_after.is_some_and(|s| (1..=6).contains(&s))),
            "Retry-After from the bucket (100 tokens at 1000/min: 6 s at most): {out:?}"
        );
        let served: Vec<usize> =
            (0..3).map(|r| out.iter().filter(|o| o.status == 200 && o.replica == r).count()).collect();
        assert!(served.iter().filter(|n| **n > 0).count() >= 2, "admissions came from several replicas: {served:?}");
    }
    assert_eq!(count(&refund_wave, 200), 9, "refunds are shared too: {refund_wave:?}");
    let limited: f64 = {
        let mut sum = 0.0;
        for r in &c.replicas {
            sum += r
                .metric("sipp_gateway_limited_total{scope=\"caller\",name=\"budget-0\",limit=\"tokens_per_minute\"}")
                .await;
        }
        sum
    };
    assert_eq!(limited, 54.0 + 55.0, "each replica counts the 429s it gave");
}

/// The same for requests per minute (7) and concurrent streams (5).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_rates_and_concurrent_streams_are_exact_across_replicas() {
    let mut callers: Vec<(String, &str)> = (0..5).map(|i| (format!("rate-{i}"), "requests_per_minute = 7")).collect();
    callers.extend((0..5).map(|i| (format!("streams-{i}"), "max_concurrent_streams = 5")));
    let callers: Vec<(&str, &str)> = callers.iter().map(|(c, l)| (c.as_str(), *l)).collect();
    let c = cluster(3, 2_000, &callers, "").await;
    for caller in 0..5 {
        let out = wave(&all(&c), caller, 64, &body(false)).await;
        assert_eq!((count(&out, 200), count(&out, 429)), (7, 57), "requests_per_minute, repetition {caller}: {out:?}");
    }
    for caller in 5..10 {
        let out = wave(&all(&c), caller, 64, &body(true)).await;
        assert_eq!(
            (count(&out, 200), count(&out, 429)),
            (5, 59),
            "max_concurrent_streams, repetition {caller}: {out:?}"
        );
    }
    // Slots come back when streams end: the same caller gets 5 again.
    let out = wave(&all(&c), 9, 64, &body(true)).await;
    assert_eq!(count(&out, 200), 5, "{out:?}");
}

/// A replica killed and restarted mid-run starts from the shared buckets, not full ones:
/// the budget admitted before the restart is all there is (5 of 100 tokens in 500), and
/// what the other replicas admitted finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_restarting_mid_run_loses_nothing_admitted() {
    let c = cluster(3, 6_000, &[("budget", "tokens_per_minute = 500")], "").await;
    let mut c = c;
    let first = {
        let urls: Vec<String> = c.replicas.iter().map(|r| r.public.clone()).collect();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let b = body(false);
            join_all((0..32).map(|i| {
                let (client, url, b) = (client.clone(), format!("{}/v1/chat/completions", urls[i % 3]), b.clone());
                async move {
                    match client
                        .post(url)
                        .bearer_auth(token(0))
                        .header("content-type", "application/json")
                        .body(b.to_string())
                        .send()
                        .await
                    {
                        Ok(r) => (r.status().as_u16(), i % 3),
                        Err(_) => (0, i % 3),
                    }
                }
            }))
            .await
        })
    };
    // The refusals come back at once; the admitted wait on the upstream for 6 s.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    c.replicas[2].restart().await;
    let second = wave(&all(&c), 0, 32, &body(false)).await;
    assert_eq!(count(&second, 429), 32, "the restarted replica did not start with a fresh budget: {second:?}");
    let first = first.await.unwrap();
    let done = first.iter().filter(|(s, _)| *s == 200).count();
    let lost = first.iter().filter(|(s, r)| *s == 0 && *r == 2).count();
    let refused = first.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!((done + lost, refused), (5, 27), "{first:?}");
    assert!(first.iter().all(|(s, r)| *s != 0 || *r == 2), "only the killed replica's requests broke: {first:?}");
}

/// A crashed replica's running requests hold their slots only until their lease runs
/// out (3 s here), never for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_replicas_slots_expire_with_their_lease() {
    let mut c = cluster(2, 60_000, &[("streams", "max_concurrent_streams = 2")], "lease_seconds = 3").await;
    let url = format!("{}/v1/chat/completions", c.replicas[1].public);
    for _ in 0..2 {
        let url = url.clone();
        tokio::spawn(async move {
            let request = reqwest::Client::new().post(url).bearer_auth(token(0));
            let request = request.header("content-type", "application/json").body(body(true).to_string());
            // Read on: the stream (and its slot) lasts until the replica dies.
            if let Ok(r) = request.send().await {
                let _ = r.bytes().await;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let out = wave(&[&c.replicas[0]], 0, 1, &quick()).await;
    assert_eq!(out[0].status, 429, "both slots are held by the other replica");
    c.replicas[1].kill();
    let started = Instant::now();
    let freed = loop {
        let out = wave(&[&c.replicas[0]], 0, 1, &quick()).await;
        if out[0].status != 429 || started.elapsed() > Duration::from_secs(10) {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(freed <= Duration::from_secs(5), "the dead replica's slots were freed after {freed:?}");
}

/// `on_unreachable = "fail_closed"` (the default): while Redis is away, limited
/// requests get a 503 within the timeout (never a hang), readiness says why, callers
/// without limits are served; Redis back, sharing resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_closed_while_redis_is_away_then_resume() {
    let mut c = cluster(2, 0, &[("budget", "tokens_per_minute = 100000"), ("free", "")], "timeout_ms = 200").await;
    assert_eq!(count(&limited(&c.replicas).await, 200), 4);
    c.redis.kill();
    let started = Instant::now();
    let out = limited(&c.replicas).await;
    assert!(started.elapsed() < Duration::from_secs(2), "bounded by the timeout: {:?}", started.elapsed());
    assert_eq!(count(&out, 503), 4, "{out:?}");
    assert!(out.iter().all(|o| o.retry_after == Some(1)), "{out:?}");
    assert_eq!(count(&wave(&all(&c), 1, 4, &body(false)).await, 200), 4, "a caller without limits needs no store");
    let (status, text) = c.replicas[0].readiness().await.unwrap();
    assert_eq!((status, text.as_str()), (503, "shared limit store unreachable"));
    assert_eq!(c.replicas[0].metric("sipp_gateway_state_up").await, 0.0);
    c.redis.restart().await;
    let started = Instant::now();
    loop {
        let out = limited(&c.replicas).await;
        if count(&out, 200) == 4 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "sharing did not resume: {out:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.replicas[0].wait_ready().await;
    assert_eq!(c.replicas[0].metric("sipp_gateway_state_up").await, 1.0);
}

/// `on_unreachable = "fail_open"`: while Redis is away each replica counts alone, so a
/// limit still holds per replica; the replica stays ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_open_counts_each_replica_alone_while_redis_is_away() {
    let mut c =
        cluster(1, 0, &[("rate", "requests_per_minute = 3")], "timeout_ms = 200\non_unreachable = \"fail_open\"").await;
    c.redis.kill();
    let out = wave(&all(&c), 0, 8, &body(false)).await;
    assert_eq!((count(&out, 200), count(&out, 429)), (3, 5), "{out:?}");
    assert_eq!(c.replicas[0].readiness().await.map(|r| r.0), Some(200));
    assert_eq!(c.replicas[0].metric("sipp_gateway_state_unreachable_total{outcome=\"counted_locally\"}").await, 8.0);
}

async fn limited(replicas: &[Replica]) -> Vec<Outcome> {
    let r: Vec<&Replica> = replicas.iter().collect();
    wave(&r, 0, 4, &body(false)).await
}

/// A logged-in dashboard session on `replica`: its cookie and CSRF token.
async fn admin(replica: &Replica) -> (String, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/admin/api/session", replica.management))
        .header("content-type", "application/json")
        .body(json!({"password": "replica-admin-password"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    (cookie, v["csrf_token"].as_str().unwrap().to_string())
}

/// One dashboard API call on `replica` (logged in, with its CSRF token): the status.
async fn admin_call(replica: &Replica, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
    let (cookie, csrf) = admin(replica).await;
    let mut r = reqwest::Client::new()
        .request(method, format!("{}/admin/api{path}", replica.management))
        .header("cookie", cookie)
        .header("x-sipp-admin-csrf", csrf);
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b.to_string());
    }
    r.send().await.unwrap().status().as_u16()
}

async fn blocklist(replica: &Replica, method: reqwest::Method, caller: &str) -> u16 {
    let body = if method == reqwest::Method::POST {
        json!({"kind": "caller", "value": caller, "reason": "abuse"})
    } else {
        json!({"kind": "caller", "value": caller})
    };
    admin_call(replica, method, "/blocklist", Some(body)).await
}

/// Until `replica` answers caller `caller` with `status` (at most 5 s).
async fn until_status(replica: &Replica, caller: usize, status: u16) {
    let started = Instant::now();
    loop {
        let out = wave(&[replica], caller, 1, &quick()).await;
        if out[0].status == status {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still {out:?}, wanted {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The dashboard's controls under `[state]`: a caller blocked on one replica is refused
/// by all, unblocked on another is served by all again; the same for a disabled target.
/// With Redis away, a change is refused (503) rather than made on one replica only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_blocklist_is_shared_by_every_replica() {
    let mut c = cluster(2, 0, &[("victim", ""), ("bystander", "")], "timeout_ms = 200").await;
    assert_eq!(blocklist(&c.replicas[0], reqwest::Method::POST, "victim").await, 200);
    until_status(&c.replicas[1], 0, 403).await;
    until_status(&c.replicas[0], 0, 403).await;
    assert_eq!(wave(&all(&c), 1, 2, &quick()).await.iter().filter(|o| o.status == 200).count(), 2);
    assert_eq!(blocklist(&c.replicas[1], reqwest::Method::DELETE, "victim").await, 200);
    until_status(&c.replicas[0], 0, 200).await;
    until_status(&c.replicas[1], 0, 200).await;
    // A target disabled on one replica is disabled on all; enabled on another, back.
    let post = reqwest::Method::POST;
    let disable =
        admin_call(&c.replicas[1], post.clone(), "/targets/quick/disable", Some(json!({"reason": "maintenance"})));
    assert_eq!(disable.await, 200);
    until_status(&c.replicas[0], 1, 503).await;
    assert_eq!(admin_call(&c.replicas[0], post, "/targets/quick/enable", None).await, 200);
    until_status(&c.replicas[1], 1, 200).await;
    c.redis.kill();
    assert_eq!(blocklist(&c.replicas[0], reqwest::Method::POST, "victim").await, 503);
    assert_eq!(wave(&[&c.replicas[0]], 0, 1, &quick()).await[0].status, 200, "the refused change was not made");
}
