//! The floor for engine overhead: a minimal single-sequence llama-cpp-2 loop with the
//! same sampler the engine builds for greedy, EOS-free runs.

use crate::Setup;
use anyhow::{Context, Result};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::time::Instant;

pub struct RawResult {
    pub prompt_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
}

pub fn run(setup: &Setup) -> Result<RawResult> {
    let backend = sipp::engine::llama_backend()?;
    let model =
        LlamaModel::load_from_file(backend, &setup.model, &LlamaModelParams::default()).context("loading the model")?;
    // The engine's context shape: a window of n_ctx cells for each of the streams it is
    // sized for (llama.cpp's prompt processing is ~4% slower with 16 windows than with one;
    // a one-window loop would count that as engine overhead). The loop uses window 0.
    let windows = setup.streams.iter().copied().max().unwrap_or(1) as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(setup.n_ctx * windows))
        .with_n_seq_max(windows)
        .with_kv_unified(false)
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(setup.threads)
        .with_n_threads_batch(setup.threads);
    let mut ctx = model.new_context(backend, params).context("creating the context")?;
    let mut batch = LlamaBatch::new(512, 1);

    // Prompt processing: one 512-token batch, best-of-N after a warm-up.
    let long = model.vocab().tokenize(setup.long_prompt.as_bytes(), false, true);
    anyhow::ensure!(
        long.len() == setup.pp_tokens,
        "the prompt-processing text is {} tokens, not {}",
        long.len(),
        setup.pp_tokens
    );
    let mut pp = Vec::new();
    for round in 0..=setup.repeats {
        ctx.clear_kv_cache();
        batch.clear();
        for (i, t) in long.iter().enumerate() {
            batch.add(*t, i as i32, &[0], i + 1 == long.len())?;
        }
        let t0 = Instant::now();
        ctx.decode(&mut batch)?;
        if round > 0 {
            pp.push(long.len() as f64 / t0.elapsed().as_secs_f64());
        }
    }

    // Decode: short prompt, then `gen_tokens` greedy tokens with end-of-generation banned.
    let prompt = model.vocab().tokenize(setup.short_prompt.as_bytes(), false, true);
    let mut rates = Vec::new();
    for round in 0..=setup.repeats {
        ctx.clear_kv_cache();
        let biases: Vec<_> =
            setup.banned.iter().map(|t| LlamaLogitBias::new(LlamaToken(*t), f32::NEG_INFINITY)).collect();
        let mut sampler =
            LlamaSampler::chain_simple([LlamaSampler::logit_bias(model.n_vocab(), &biases), LlamaSampler::greedy()]);
        batch.clear();
        for (i, t) in prompt.iter().enumerate() {
            batch.add(*t, i as i32, &[0], i + 1 == prompt.len())?;
        }
        ctx.decode(&mut batch)?;
        let mut token = sampler.sample(&ctx, batch.n_tokens() - 1);
        let first = prompt.len() as i32;
        let t0 = Instant::now();
        for pos in (first..).take(setup.gen_tokens.saturating_sub(1) as usize) {
            batch.clear();
            batch.add(token, pos, &[0], true)?;
            ctx.decode(&mut batch)?;
            token = sampler.sample(&ctx, 0);
        }
        if round > 0 {
            rates.push(f64::from(setup.gen_tokens - 1) / t0.elapsed().as_secs_f64());
        }
    }
    Ok(RawResult {
        prompt_tokens_per_second: crate::median(&mut pp),
        decode_tokens_per_second: crate::median(&mut rates),
    })
}
