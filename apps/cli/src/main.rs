//! `sipp`: run a prompt on a local GGUF model and stream the answer to stdout.
//!
//!     cargo run --release -p sipp-cli -- "Explain Sipp."            # default model
//!     cargo run --release -p sipp-cli -- model.gguf "Hi" --chat
//!
//! llama.cpp's logs go to stderr (through `tracing`, `SIPP_LOG=info` to see them);
//! stdout carries only generated text.

mod args;

use anyhow::{Context, Result};
use args::{Args, Stats};
use futures_util::StreamExt;
use sipp::engine::{ChatMessage, ChatRole};
use sipp::engine::{ContextRuntimeConfig, NativeRuntimeConfig, ObservabilityRuntimeConfig};
use sipp::{
    EndpointDescriptor, LocalModelDescriptor, LocalStats, SippChatRequest, SippClient, SippQueryRequest,
    SippTextOptions, SippTextResponse,
};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse_or_exit();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    let _ = std::io::stdout().flush();
    eprintln!("sipp: error: {error:#}");
    ExitCode::FAILURE
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIPP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn run(args: Args) -> Result<()> {
    let model = match &args.model {
        Some(path) => path.clone(),
        None => sipp_models::default_model().context("fetching the default model")?,
    };
    let config = NativeRuntimeConfig {
        context: ContextRuntimeConfig {
            n_ctx: args.ctx_size,
            n_threads: args.threads,
            deterministic: args.deterministic,
            ..Default::default()
        },
        observability: ObservabilityRuntimeConfig {
            runtime_metrics: args.stats != Stats::Off,
            backend_profiling: args.stats == Stats::Profile,
        },
        ..Default::default()
    };
    let client = SippClient::new();
    let descriptor = LocalModelDescriptor { model_path: model, config, backend: args.backend };
    let endpoint = client.add("cli", EndpointDescriptor::from(descriptor)).await?;
    let options = SippTextOptions {
        max_tokens: Some(args.max_tokens),
        temperature: args.temperature,
        seed: args.seed,
        ..Default::default()
    };
    let mut run = if args.chat {
        client.chat(SippChatRequest {
            endpoint: Some(endpoint.clone()),
            messages: vec![ChatMessage::new(ChatRole::User, args.prompt.clone())],
            options,
            emit_tokens: true,
            ..Default::default()
        })
    } else {
        client.query(SippQueryRequest {
            endpoint: Some(endpoint.clone()),
            prompt: args.prompt.clone(),
            options,
            emit_tokens: true,
            ..Default::default()
        })
    };
    let mut stdout = std::io::stdout().lock();
    while let Some(batch) = run.next().await {
        let batch = batch?;
        stdout.write_all(batch.text.as_bytes())?;
        stdout.flush()?;
    }
    let response = run.response().await?;
    writeln!(stdout)?;
    drop(stdout);
    if args.stats != Stats::Off {
        print_stats(&response);
        if let Ok(engine) = client.endpoint_stats(&endpoint) {
            print_engine(&engine);
        }
    }
    client.close();
    Ok(())
}

/// The endpoint's runtime metrics after the run.
fn print_engine(e: &sipp::EngineStats) {
    let q = |h: &sipp::LatencyHistogram, p: f64| h.quantile_ms(p).map_or("-".into(), |ms| format!("<={ms}ms"));
    eprintln!(
        "[sipp] engine: decode_calls={} prompt_tokens={} generated_tokens={} kv_cells={}/{} \
         inter_token p50{} p99{}",
        e.decode_calls,
        e.prompt_tokens,
        e.generated_tokens,
        e.kv_cells_used,
        e.kv_cells_total,
        q(&e.inter_token, 0.5),
        q(&e.inter_token, 0.99)
    );
}

fn print_stats(response: &SippTextResponse) {
    // Local runs always count tokens.
    let u = response.usage.unwrap_or_default();
    eprintln!(
        "[sipp] finish={} input_tokens={} output_tokens={}",
        response.finish_reason.as_str(),
        u.input_tokens,
        u.output_tokens
    );
    if let Some(LocalStats {
        ttft_ms, queue_ms, prefill_tokens_per_second, decode_tokens_per_second, backend, ..
    }) = &response.local_stats
    {
        eprintln!(
            "[sipp] ttft={ttft_ms:.1}ms queue={queue_ms:.1}ms prefill={prefill_tokens_per_second:.1} tok/s \
             decode={decode_tokens_per_second:.1} tok/s"
        );
        if let Some(b) = backend {
            eprintln!(
                "[sipp] llama.cpp: prompt eval {:.1}ms/{} tok, eval {:.1}ms/{} tok",
                b.prompt_eval_ms, b.prompt_eval_tokens, b.eval_ms, b.eval_tokens
            );
        }
    }
}
