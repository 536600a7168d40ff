//! Continuous batching: concurrent requests share decode calls, stay correct, and can
//! be cancelled mid-stream without disturbing the others.

mod common;

use common::*;
use futures_util::future::join_all;
use futures_util::StreamExt;
use sipp::engine::{NativeRuntimeConfig, SchedulerRuntimeConfig};
use sipp::{EndpointDescriptor, FinishReason, SippClient};
use std::future::IntoFuture;

const PROMPTS: [&str; 8] = [
    "Name three fruits.",
    "What is two plus two?",
    "Describe the color blue.",
    "Give me a synonym for happy.",
    "What do bees make?",
    "Name a planet.",
    "Say hello in French.",
    "What is ice made of?",
];

#[tokio::test]
async fn eight_concurrent_requests_match_serial_and_share_batches() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "text").await;
    let mut serial = Vec::new();
    for p in PROMPTS {
        serial.push(client.query(query(&ep, &chatml(p), greedy(24))).await.unwrap().text);
    }
    let before = client.endpoint_stats(&ep).unwrap();
    assert_eq!(before.max_batch_sequences, 1, "serial requests never share a decode");

    let runs = PROMPTS.iter().map(|p| client.query(query(&ep, &chatml(p), greedy(24))).response());
    let concurrent: Vec<_> = join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
    for (i, r) in concurrent.iter().enumerate() {
        assert_eq!(r.text, serial[i], "prompt {i} changed under batching");
    }
    let stats = client.endpoint_stats(&ep).unwrap();
    assert!(stats.max_batch_sequences >= 4, "requests did not share decode batches: {stats:?}");
    let shared = concurrent.iter().map(|r| r.local_stats.as_ref().unwrap().max_batch_sequences).max().unwrap();
    assert!(shared >= 4, "per-request stats disagree: {shared}");
}

#[tokio::test]
async fn serial_scheduling_never_shares_a_decode() {
    let client = SippClient::new();
    let mut config = small_config();
    config.scheduler = SchedulerRuntimeConfig { continuous_batching: false, ..Default::default() };
    let ep = client.add("serial", EndpointDescriptor::local(model(), config)).await.unwrap();
    let runs = PROMPTS[..3].iter().map(|p| client.query(query(&ep, &chatml(p), greedy(8))).response());
    for r in join_all(runs).await {
        r.unwrap();
    }
    let stats = client.endpoint_stats(&ep).unwrap();
    assert_eq!((stats.max_batch_sequences, stats.completed_requests), (1, 3));
}

#[tokio::test]
async fn cancel_mid_stream_ends_cancelled_and_the_next_request_works() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "text").await;
    let mut req = query(&ep, &chatml("Write a very long story about dragons."), greedy(400));
    req.emit_tokens = true;
    let mut run = client.query(req);
    let mut seen = 0;
    while let Some(batch) = run.next().await {
        let batch = batch.unwrap();
        assert_eq!(batch.sequence, seen);
        seen += 1;
        if seen == 3 {
            run.cancel("test");
        }
    }
    let r = run.response().await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::Cancelled);
    assert!(r.usage.unwrap().output_tokens >= 3 && r.usage.unwrap().output_tokens < 50, "{:?}", r.usage);
    let next = client.query(query(&ep, &chatml("Name a fruit."), greedy(8))).await.unwrap();
    assert!(!next.text.is_empty());
    let stats = client.endpoint_stats(&ep).unwrap();
    assert_eq!(stats.cancelled_requests, 1);
}

#[tokio::test]
async fn dropping_a_run_cancels_it_and_frees_its_slot() {
    let client = SippClient::new();
    let mut config = small_config();
    config.scheduler.max_running_requests = Some(1);
    let ep = client.add("one-slot", EndpointDescriptor::local(model(), config)).await.unwrap();
    let mut req = query(&ep, &chatml("Write a very long story about dragons."), greedy(400));
    req.emit_tokens = true;
    let mut run = client.query(req);
    assert!(run.next().await.is_some());
    drop(run);
    // With one slot, this only completes if the dropped run released it.
    let next = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        client.query(query(&ep, &chatml("Name a fruit."), greedy(8))).response(),
    )
    .await
    .expect("slot was not freed")
    .unwrap();
    assert!(!next.text.is_empty());
    assert_eq!(client.endpoint_stats(&ep).unwrap().cancelled_requests, 1);
}

#[tokio::test]
async fn streamed_batches_add_up_to_the_response_text() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "text").await;
    let mut req = query(&ep, &chatml("Describe autumn."), greedy(40));
    req.emit_tokens = true;
    let mut run = client.query(req);
    let mut streamed = String::new();
    while let Some(batch) = run.next().await {
        streamed.push_str(&batch.unwrap().text);
    }
    let r = run.response().await.unwrap();
    assert_eq!(streamed, r.text);
}

#[tokio::test]
async fn queue_limit_refuses_at_once() {
    let client = SippClient::new();
    let config = NativeRuntimeConfig {
        scheduler: SchedulerRuntimeConfig {
            max_running_requests: Some(1),
            max_queued_requests: Some(1),
            ..Default::default()
        },
        ..small_config()
    };
    let ep = client.add("tight", EndpointDescriptor::local(model(), config)).await.unwrap();
    // Submitted back to back before the engine thread can admit any of them: at most
    // one waits, the rest are refused synchronously.
    let runs: Vec<_> = (0..6).map(|_| client.query(query(&ep, &chatml("Hi"), greedy(64)))).collect();
    let results = join_all(runs.into_iter().map(IntoFuture::into_future)).await;
    let overloaded = results.iter().filter(|r| matches!(r, Err(e) if e.code() == "overloaded")).count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(overloaded >= 1, "no request was refused");
    assert_eq!(ok + overloaded, 6);
}
