//! A disconnect storm on a local target: 50 clients open streams and drop them after
//! their first token, staggered. Afterwards the gateway counts nothing in flight, the
//! engine runs no sequence, and the next request is served at its normal latency.

mod harness;

use harness::{send, Running};
use serde_json::json;
use std::time::{Duration, Instant};

async fn gateway() -> Running {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let local = harness::local_target(2048);
    let (text, public, management) = harness::config_text(&upstream, &["ok"], "", &local);
    harness::start(&text, public, management).await
}

fn chat(max_tokens: u32, stream: bool) -> serde_json::Value {
    json!({"model": "local", "messages": [{"role": "user", "content": "Tell me a long story about a lighthouse."}],
           "max_tokens": max_tokens, "stream": stream, "temperature": 0})
}

async fn timed_answer(gw: &Running) -> Duration {
    let started = Instant::now();
    let r = send(gw, "/v1/chat", &chat(8, false)).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_dropped_streams_leave_nothing_running() {
    let gw = std::sync::Arc::new(gateway().await);
    timed_answer(&gw).await; // warm-up
    let baseline = timed_answer(&gw).await;
    let mut clients = Vec::new();
    for i in 0..50u64 {
        let gw = std::sync::Arc::clone(&gw);
        clients.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 20)).await;
            let mut r = send(&gw, "/v1/chat", &chat(256, true)).await;
            let status = r.status().as_u16();
            if status == 200 {
                // Drop the connection right after the first token.
                while let Ok(Some(c)) = r.chunk().await {
                    if String::from_utf8_lossy(&c).contains("event: token") {
                        break;
                    }
                }
            }
            status
        }));
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for c in clients {
        *statuses.entry(c.await.unwrap()).or_default() += 1;
    }
    // Streams the engine had no place for are refused with 429, the rest were served.
    assert!(statuses.keys().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert!(statuses.get(&200).copied().unwrap_or(0) >= 4, "{statuses:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let in_flight = gw.metric("sipp_gateway_in_flight_requests").await;
        let running = gw.metric("sipp_target_running_requests{target=\"local\"}").await;
        if in_flight == 0.0 && running == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "after the storm: {in_flight} in flight, {running} running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = timed_answer(&gw).await;
    eprintln!("disconnect storm: {statuses:?}; answer latency {baseline:?} before, {after:?} after");
    assert!(after < baseline * 3 + Duration::from_millis(500), "{baseline:?} before, {after:?} after");
    std::sync::Arc::try_unwrap(gw).ok().unwrap().stop().await;
}
