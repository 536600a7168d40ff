//! `context.n_ctx` is the window of every request; concurrency never shrinks it, and a
//! request that cannot get KV space waits or fails with a typed error. Failed runs raise
//! where the caller iterates; a free running place always admits.

mod common;

use common::*;
use futures_util::StreamExt;
use sipp::engine::{ContextRuntimeConfig, NativeRuntimeConfig, SchedulerRuntimeConfig};
use sipp::{EndpointDescriptor, EndpointRef, FinishReason, SippClient};

/// A prompt of roughly `n` tokens (the default model spends one token per " word").
fn long_prompt(words: usize) -> String {
    chatml(&format!("Count the words:{}", " word".repeat(words)))
}

async fn endpoint(client: &SippClient, config: NativeRuntimeConfig) -> EndpointRef {
    client.add("w", EndpointDescriptor::local(model(), config)).await.expect("load model")
}

fn with_ctx(n_ctx: u32, kv_unified: Option<bool>) -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        context: ContextRuntimeConfig { n_ctx: Some(n_ctx), kv_unified, ..Default::default() },
        ..Default::default()
    }
}

#[tokio::test]
async fn one_request_uses_the_whole_n_ctx_with_per_request_windows() {
    let client = SippClient::new();
    let ep = endpoint(&client, with_ctx(2048, None)).await;
    let info = client.endpoint_info(&ep).unwrap();
    assert_eq!((info.n_ctx, info.n_seq_max, info.kv_unified), (2048, 8, false));
    assert_eq!(info.kv_cells, 8 * 2048);
    assert_eq!(info.kv_bytes, u64::from(info.kv_cells) * 23_040, "f16 K+V, 30 layers, 3 KV heads of 64");

    let r = client.query(query(&ep, &long_prompt(1800), greedy(8))).await.unwrap();
    assert!(r.usage.unwrap().input_tokens > 1800 && r.usage.unwrap().input_tokens < 2040, "{:?}", r.usage);
    assert_eq!(r.usage.unwrap().output_tokens, 8);

    let err = client.query(query(&ep, &long_prompt(2100), greedy(8))).await.unwrap_err();
    assert_eq!(err.code(), "context_overflow");
    assert!(err.to_string().contains("context.n_ctx = 2048"), "{err}");
}

#[tokio::test]
async fn a_shared_pool_makes_requests_wait_for_space_instead_of_truncating() {
    let client = SippClient::new();
    let ep = endpoint(&client, with_ctx(2048, Some(true))).await;
    let info = client.endpoint_info(&ep).unwrap();
    assert_eq!((info.n_ctx, info.kv_cells, info.kv_unified), (2048, 2048, true));

    // Each needs ~1200 + 16 cells: together they exceed the pool, so the second waits,
    // counted in the queue.
    let runs: Vec<_> = (0..2).map(|_| client.query(query(&ep, &long_prompt(1200), greedy(16)))).collect();
    let mut most_waiting = 0;
    loop {
        let stats = client.endpoint_stats(&ep).unwrap();
        if stats.completed_requests > 0 {
            break;
        }
        // Until the first decode both may still be waiting to be admitted; after it the
        // first runs and only the second can be waiting.
        if stats.decode_calls > 0 {
            most_waiting = most_waiting.max(stats.waiting_requests);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(most_waiting, 1, "the second request waited for KV space in the queue");
    let responses = futures_util::future::join_all(runs.into_iter().map(sipp::SippTextRun::response)).await;
    for r in &responses {
        let r = r.as_ref().unwrap();
        assert_eq!((r.usage.unwrap().output_tokens, r.finish_reason), (16, FinishReason::Length));
    }
    let stats = client.endpoint_stats(&ep).unwrap();
    assert_eq!(stats.max_batch_sequences, 1, "the two never shared the pool");
    assert_eq!((stats.completed_requests, stats.waiting_requests), (2, 0));
    let waited =
        responses.iter().map(|r| r.as_ref().unwrap().local_stats.as_ref().unwrap().queue_ms).fold(0.0, f64::max);
    assert!(waited > 10.0, "the second request queued for the first: {waited} ms");

    // Small requests still share the pool and run together.
    let small: Vec<_> = (0..4).map(|i| client.query(query(&ep, &chatml(&format!("Say {i}.")), greedy(24)))).collect();
    for r in futures_util::future::join_all(small.into_iter().map(sipp::SippTextRun::response)).await {
        r.unwrap();
    }
    assert!(client.endpoint_stats(&ep).unwrap().max_batch_sequences > 1);
}

#[tokio::test]
async fn iteration_raises_the_error_of_a_failed_run() {
    let client = SippClient::new();
    let ep = endpoint(&client, with_ctx(256, None)).await;
    // Failed before it started.
    let mut req = query(&ep, &long_prompt(400), greedy(8));
    req.emit_tokens = true;
    let mut run = client.query(req);
    let first = run.next().await.expect("an item, not a quiet end");
    assert_eq!(first.unwrap_err().code(), "context_overflow");
    assert!(run.next().await.is_none(), "the error is yielded once");
    assert_eq!(run.response().await.unwrap_err().code(), "context_overflow");

    // Failed while streaming: the endpoint closes under it.
    let mut req = query(&ep, &chatml("Write a very long story."), greedy(200));
    req.emit_tokens = true;
    let mut run = client.query(req);
    assert!(run.next().await.unwrap().is_ok());
    client.close();
    let mut error = None;
    while let Some(item) = run.next().await {
        if let Err(e) = item {
            error = Some(e);
        }
    }
    assert_eq!(error.expect("iteration must raise").code(), "endpoint_closed");
}

#[tokio::test]
async fn a_free_running_place_admits_even_with_no_queue() {
    let client = SippClient::new();
    let config = NativeRuntimeConfig {
        scheduler: SchedulerRuntimeConfig {
            max_running_requests: Some(1),
            max_queued_requests: Some(0),
            ..Default::default()
        },
        ..Default::default()
    };
    let ep = endpoint(&client, config).await;
    assert!(client.query(query(&ep, "Hi", greedy(2))).await.is_ok(), "the first request must not be refused");

    let mut busy = query(&ep, &chatml("Write a long story."), greedy(64));
    busy.emit_tokens = true;
    let mut running = client.query(busy);
    assert!(running.next().await.unwrap().is_ok());
    let refused = client.query(query(&ep, "Hi", greedy(2))).await.unwrap_err();
    assert_eq!(refused.code(), "overloaded");
    assert!(refused.to_string().contains("max_queued_requests = 0"), "{refused}");
    running.response().await.unwrap();
    assert!(client.query(query(&ep, "Hi", greedy(2))).await.is_ok());
}
