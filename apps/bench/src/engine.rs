//! The Sipp engine on the same model, threads and sampler as the raw loop.

use crate::Setup;
use anyhow::Result;
use futures_util::future::join_all;
use sipp::engine::{
    CacheRuntimeConfig, ContextRuntimeConfig, KvReuseMode, LogitBias, NativeRuntimeConfig, SamplingRuntimeConfig,
    SchedulerRuntimeConfig,
};
use sipp::{EndpointDescriptor, EndpointRef, LocalTextOptions, SippClient, SippQueryRequest, SippTextOptions};
use std::time::Instant;

pub struct EngineResult {
    pub prompt_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
    /// (streams, aggregate tok/s, max sequences per decode)
    pub aggregate: Vec<(usize, f64, u64)>,
}

/// Prefill of a long cold prompt and time to first token when its prefix is cached.
pub struct CacheResult {
    /// (prompt tokens, prefill tok/s) of cold prompts of `Setup::long_prompts` lengths.
    pub cold: Vec<(usize, f64)>,
    /// TTFT of the longest prompt asked again (all but its last token from the slot), ms.
    pub warm_ttft_ms: f64,
    /// TTFT of that prompt after other traffic took the slot (restored snapshot), ms.
    pub restored_ttft_ms: f64,
}

pub async fn run(setup: &Setup, deterministic: bool) -> Result<EngineResult> {
    let client = SippClient::new();
    let max_streams = setup.streams.iter().copied().max().unwrap_or(1);
    let config = NativeRuntimeConfig {
        // Each stream gets a window of n_ctx cells, like the raw loop's one sequence.
        context: context(setup, setup.n_ctx, deterministic),
        scheduler: SchedulerRuntimeConfig { max_running_requests: Some(max_streams as u32), ..Default::default() },
        // The raw loop recomputes every prompt; so does the engine here.
        cache: CacheRuntimeConfig { mode: KvReuseMode::None, ..Default::default() },
        ..Default::default()
    };
    let ep = client.add("bench", EndpointDescriptor::local(&setup.model, config)).await?;

    let mut pp = Vec::new();
    for round in 0..=setup.repeats {
        let r = client.query(request(&ep, setup, &setup.long_prompt, 1)).await?;
        let input = r.usage.as_ref().map_or(0, |u| u.input_tokens as usize);
        anyhow::ensure!(input == setup.pp_tokens, "the engine saw {input} prompt tokens, not {}", setup.pp_tokens);
        if round > 0 {
            pp.push(r.local_stats.map_or(0.0, |s| s.prefill_tokens_per_second));
        }
    }
    // Streamed, as users consume it (and as the Python and llama-cpp-python runs do).
    let mut single = Vec::new();
    for round in 0..=setup.repeats {
        let mut run = client.query(SippQueryRequest {
            emit_tokens: true,
            ..request(&ep, setup, &setup.short_prompt, setup.gen_tokens)
        });
        while run.next_batch().await.is_some() {}
        let r = run.response().await?;
        anyhow::ensure!(
            r.usage.unwrap().output_tokens == setup.gen_tokens,
            "stream ended early: {:?}",
            r.finish_reason
        );
        if round > 0 {
            single.push(r.local_stats.map_or(0.0, |s| s.decode_tokens_per_second));
        }
    }
    let mut aggregate = Vec::new();
    for &n in &setup.streams {
        let mut rates = Vec::new();
        let mut shared = 0;
        for round in 0..=setup.repeats {
            let t0 = Instant::now();
            let runs = (0..n).map(|i| {
                let prompt = format!("{} (variant {i})", setup.short_prompt);
                client.query(request(&ep, setup, &prompt, setup.gen_tokens))
            });
            let results = join_all(runs.map(std::future::IntoFuture::into_future)).await;
            let wall = t0.elapsed().as_secs_f64();
            let mut tokens = 0u64;
            for r in results {
                let r = r?;
                tokens += u64::from(r.usage.unwrap().output_tokens);
                shared = shared.max(r.local_stats.map_or(0, |s| u64::from(s.max_batch_sequences)));
            }
            if round > 0 {
                rates.push(tokens as f64 / wall);
            }
        }
        aggregate.push((n, crate::median(&mut rates), shared));
    }
    client.close();
    Ok(EngineResult {
        prompt_tokens_per_second: crate::median(&mut pp),
        decode_tokens_per_second: crate::median(&mut single),
        aggregate,
    })
}

/// Cold prefill of longer prompts, then cache hits: the longest again (live slot), and
/// again after two other prompts displaced it from both slots (snapshot restore).
pub async fn cache(setup: &Setup, deterministic: bool) -> Result<CacheResult> {
    let client = SippClient::new();
    let config = NativeRuntimeConfig {
        context: context(setup, 2048, deterministic),
        scheduler: SchedulerRuntimeConfig { max_running_requests: Some(2), ..Default::default() },
        cache: CacheRuntimeConfig { mode: KvReuseMode::Snapshot, ..Default::default() },
        ..Default::default()
    };
    let ep = client.add("bench-cache", EndpointDescriptor::local(&setup.model, config)).await?;
    let mut cold = Vec::new();
    for (i, prompt) in setup.long_prompts.iter().enumerate() {
        let mut rates = Vec::new();
        let mut tokens = 0;
        for round in 0..=setup.repeats.min(3) {
            // A distinct first token each time: nothing is reused.
            let r = client.query(request(&ep, setup, &format!("{round}{i} {prompt}"), 1)).await?;
            tokens = r.usage.as_ref().map_or(0, |u| u.input_tokens as usize);
            if round > 0 {
                rates.push(r.local_stats.map_or(0.0, |s| s.prefill_tokens_per_second));
            }
        }
        cold.push((tokens, crate::median(&mut rates)));
    }
    let longest = setup.long_prompts.last().cloned().unwrap_or_default();
    let ttft = |r: &sipp::SippTextResponse| r.local_stats.as_ref().map_or(0.0, |s| s.ttft_ms);
    let (mut warm, mut restored) = (Vec::new(), Vec::new());
    client.query(request(&ep, setup, &longest, 1)).await?;
    for _ in 0..setup.repeats {
        warm.push(ttft(&client.query(request(&ep, setup, &longest, 1)).await?));
        for other in ["Oceans are the subject of this short poem:", "Rivers are the subject of this short poem:"] {
            client.query(request(&ep, setup, other, 1)).await?;
        }
        restored.push(ttft(&client.query(request(&ep, setup, &longest, 1)).await?));
    }
    client.close();
    Ok(CacheResult { cold, warm_ttft_ms: crate::median(&mut warm), restored_ttft_ms: crate::median(&mut restored) })
}

/// The bench's threads and batch for a window of `n_ctx` cells per stream.
fn context(setup: &Setup, n_ctx: u32, deterministic: bool) -> ContextRuntimeConfig {
    ContextRuntimeConfig {
        n_ctx: Some(n_ctx),
        n_batch: Some(512),
        n_threads: Some(setup.threads),
        n_threads_batch: Some(setup.threads),
        deterministic: Some(deterministic),
        ..Default::default()
    }
}

fn request(ep: &EndpointRef, setup: &Setup, prompt: &str, max_tokens: u32) -> SippQueryRequest {
    SippQueryRequest {
        endpoint: Some(ep.clone()),
        prompt: prompt.to_string(),
        options: SippTextOptions { max_tokens: Some(max_tokens), temperature: Some(0.0), ..Default::default() },
        local: LocalTextOptions {
            sampling: Some(SamplingRuntimeConfig {
                logit_bias: Some(
                    setup.banned.iter().map(|&token| LogitBias { token, bias: f32::NEG_INFINITY }).collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}
