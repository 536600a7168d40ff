//! A soak: mixed traffic (JSON and SSE, on a provider mock and a local target, errors,
//! cancels mid-stream) against one gateway for `SIPP_SOAK_SECONDS` (120 in
//! `cargo xtask test`; `cargo xtask soak --minutes N` for longer). RSS is sampled every
//! `SIPP_SOAK_SAMPLE_SECONDS` (30); after the first sample (warm-up) every sample must
//! stay within ±5 % of it, and every answer must be well formed.

mod harness;

use harness::{chat, send, Running};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn gateway() -> Running {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let local = harness::local_target(2048);
    let (text, public, management) =
        harness::config_text(&upstream, &["ok", "status-500", "stall"], "max_concurrent_requests = 16", &local);
    harness::start(&text, public, management).await
}

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One request of kind `i % 6`; `Err` says what was malformed.
async fn one(gw: &Running, i: usize) -> Result<(), String> {
    let local = |stream: bool| {
        json!({"model": "local", "messages": [{"role": "user", "content": format!("Count to {}.", i % 7)}],
               "max_tokens": 6, "stream": stream})
    };
    let (path, body, cancel) = match i % 6 {
        0 => ("/v1/chat", chat("ok", false), false),
        1 => ("/v1/chat/completions", chat("ok", true), false),
        2 => ("/v1/chat", local(false), false),
        3 => ("/v1/chat", local(true), true),
        4 => ("/v1/chat", chat("status-500", false), false),
        _ => ("/v1/query", json!({"model": "ok", "prompt": 12}), false),
    };
    let mut r = send(gw, path, &body).await;
    let status = r.status().as_u16();
    if cancel {
        // Cancel mid-stream: read one chunk, then drop the connection.
        let _ = r.chunk().await;
        return Ok(());
    }
    let text = r.text().await.map_err(|e| format!("{path}: {e}"))?;
    let fine = match i % 6 {
        0 | 2 => status == 200 && text.contains("\"text\""),
        1 => status == 200 && text.contains("data: [DONE]"),
        4 => status == 502 && text.contains("upstream_error"),
        _ => status == 400 && text.contains("invalid_request"),
    };
    if fine || status == 429 {
        Ok(())
    } else {
        Err(format!("{path} kind {}: {status} {text:.300}", i % 6))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_traffic_holds_memory_steady() {
    let seconds = env_secs("SIPP_SOAK_SECONDS", 120);
    let every = env_secs("SIPP_SOAK_SAMPLE_SECONDS", 30).min(seconds / 2).max(1);
    let gw = Arc::new(gateway().await);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (gw, stop, sent) = (Arc::clone(&gw), Arc::clone(&stop), Arc::clone(&sent));
        workers.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = one(&gw, i).await {
                    errors.push(e);
                }
                sent.fetch_add(1, Ordering::Relaxed);
                i += 4 + w; // each worker walks the kinds in its own order
            }
            errors
        }));
    }
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(every)).await;
        let rss = harness::rss_bytes();
        eprintln!(
            "soak: {:>5} s  RSS {:>6.1} MB  {} requests",
            started.elapsed().as_secs(),
            rss as f64 / 1e6,
            sent.load(Ordering::Relaxed)
        );
        samples.push(rss);
    }
    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for w in workers {
        errors.extend(w.await.unwrap());
    }
    assert!(errors.is_empty(), "{} malformed answers:\n{}", errors.len(), errors.join("\n"));
    let warm = samples[0] as f64;
    let series: Vec<String> = samples.iter().map(|s| format!("{:.1}", *s as f64 / 1e6)).collect();
    eprintln!("soak: {} requests in {seconds} s; RSS series (MB): {}", sent.load(Ordering::Relaxed), series.join(", "));
    for (i, s) in samples.iter().enumerate().skip(1) {
        let change = (*s as f64 - warm) / warm;
        assert!(change.abs() <= 0.05, "RSS sample {i} is {:+.1} % from the warm-up sample: {series:?}", change * 100.0);
    }
    assert!(sent.load(Ordering::Relaxed) > 100, "too little traffic to mean anything");
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.metric("sipp_gateway_in_flight_requests").await != 0.0 {
        assert!(Instant::now() < deadline, "requests still in flight after the soak");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Arc::try_unwrap(gw).ok().unwrap().stop().await;
}
