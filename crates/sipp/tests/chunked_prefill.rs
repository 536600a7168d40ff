//! `scheduler.prefill_chunk_size` and `scheduler.policy = decode_first` on the real
//! default model: while a long prompt is prefilled in chunks, a running stream keeps
//! receiving tokens at every step instead of waiting for the whole prefill (counted by
//! arrival order, not by timing).

mod common;

use common::*;
use futures_util::StreamExt;
use sipp::engine::{NativeRuntimeConfig, SchedulerPolicy, SchedulerRuntimeConfig};
use sipp::{EndpointDescriptor, SippClient};
use std::time::Instant;

/// Tokens the running stream received while the long prompt was being prefilled.
async fn tokens_during_prefill(chunk: u32, policy: SchedulerPolicy) -> (usize, u32) {
    let client = SippClient::new();
    let config = NativeRuntimeConfig {
        scheduler: SchedulerRuntimeConfig { prefill_chunk_size: chunk, policy, ..Default::default() },
        ..Default::default()
    };
    let ep = client.add(format!("chunk-{chunk}"), EndpointDescriptor::local(model(), config)).await.unwrap();
    let running =
        sipp::SippQueryRequest { emit_tokens: true, ..query(&ep, &chatml("Tell a long story."), greedy(400)) };
    let mut a = client.query(running);
    a.next().await.unwrap().unwrap();
    let long = format!("{}Summarize the above.", "The lighthouse keeper wrote in his log every night. ".repeat(170));
    let submitted = Instant::now();
    let mut b = client.query(sipp::SippQueryRequest { emit_tokens: true, ..query(&ep, &chatml(&long), greedy(1)) });
    let reader = tokio::spawn(async move {
        let mut arrivals = Vec::new();
        // Closing the client after the measurement ends this stream with an error.
        while let Some(Ok(_)) = a.next().await {
            arrivals.push(Instant::now());
        }
        arrivals
    });
    b.next().await.unwrap().unwrap();
    let first_b = Instant::now();
    let b_prompt = b.response().await.unwrap().usage.unwrap().input_tokens;
    client.close();
    let arrivals = reader.await.unwrap();
    (arrivals.iter().filter(|t| **t > submitted && **t < first_b).count(), b_prompt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_stream_keeps_receiving_tokens_while_a_long_prompt_prefills() {
    let (chunked, prompt) = tokens_during_prefill(64, SchedulerPolicy::Fcfs).await;
    assert!(prompt > 1500, "the long prompt has {prompt} tokens");
    // One step per 64-token chunk, each carrying the stream's next token.
    let steps = prompt as usize / 64;
    assert!(chunked + 3 >= steps, "{chunked} tokens during {steps} chunked prefill steps");
    // Unchunked, the prefill fills whole 512-token batches: far fewer steps, far fewer tokens.
    let (whole, _) = tokens_during_prefill(0, SchedulerPolicy::Fcfs).await;
    assert!(whole * 3 < chunked, "unchunked {whole} vs chunked {chunked}");
    // decode_first sizes the prompt's share to keep steps within about twice a
    // decode-only step: on this model a few tokens a step, so the stream gets a token for
    // every few prompt tokens (and the prompt still completes).
    let (protected, _) = tokens_during_prefill(0, SchedulerPolicy::DecodeFirst).await;
    assert!(protected > chunked, "decode_first {protected} vs 64-token chunks {chunked}");
}
