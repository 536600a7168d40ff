//! Command-line arguments.

use clap::{Parser, ValueEnum};
use sipp::Backend;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stats {
    /// No timings.
    Off,
    /// Token counts, TTFT and throughput on stderr.
    Basic,
    /// Basic plus llama.cpp's own perf counters.
    Profile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Auto,
    Cpu,
    Cuda,
    Metal,
    Vulkan,
}

/// Run a prompt on a local GGUF model. With one positional argument it is the prompt
/// and the default model (SmolLM2-135M-Instruct, fetched on first use) answers it.
#[derive(Debug, Parser)]
#[command(name = "sipp", version, about)]
struct Cli {
    /// [MODEL.gguf] PROMPT
    #[arg(required = true, num_args = 1..=2, value_names = ["MODEL.gguf", "PROMPT"])]
    positional: Vec<String>,
    /// Render the prompt as one user message with the model's chat template.
    #[arg(long)]
    chat: bool,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 128)]
    max_tokens: u32,
    /// Context window in tokens.
    #[arg(long)]
    ctx_size: Option<u32>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// Sampling temperature (0 = greedy).
    #[arg(long)]
    temperature: Option<f32>,
    /// Sampling seed.
    #[arg(long)]
    seed: Option<u32>,
    /// CPU threads.
    #[arg(long)]
    threads: Option<i32>,
    /// Print timings to stderr.
    #[arg(long, value_enum, default_value_t = Stats::Off)]
    stats: Stats,
    /// The same answer whatever the cache or batch did (context.deterministic; default:
    /// on for the cpu backend). `off` lets llama.cpp pick its fastest kernel per shape.
    #[arg(long, value_enum)]
    deterministic: Option<Switch>,
}

#[derive(Debug)]
pub struct Args {
    pub model: Option<PathBuf>,
    pub prompt: String,
    pub chat: bool,
    pub max_tokens: u32,
    pub ctx_size: Option<u32>,
    pub backend: Backend,
    pub temperature: Option<f32>,
    pub seed: Option<u32>,
    pub threads: Option<i32>,
    pub stats: Stats,
    pub deterministic: Option<bool>,
}

impl Args {
    pub fn parse_or_exit() -> Self {
        let cli = Cli::parse();
        let mut positional = cli.positional.into_iter();
        let (model, prompt) = match (positional.next(), positional.next()) {
            (Some(model), Some(prompt)) => (Some(PathBuf::from(model)), prompt),
            (Some(prompt), None) => (None, prompt),
            _ => unreachable_usage(),
        };
        Self {
            model,
            prompt,
            chat: cli.chat,
            max_tokens: cli.max_tokens,
            ctx_size: cli.ctx_size,
            backend: match cli.backend {
                BackendArg::Auto => Backend::Auto,
                BackendArg::Cpu => Backend::Cpu,
                BackendArg::Cuda => Backend::Cuda,
                BackendArg::Metal => Backend::Metal,
                BackendArg::Vulkan => Backend::Vulkan,
            },
            temperature: cli.temperature,
            seed: cli.seed,
            threads: cli.threads,
            stats: cli.stats,
            deterministic: cli.deterministic.map(|s| s == Switch::On),
        }
    }
}

/// clap enforces 1..=2 positionals; this only guards against that contract changing.
fn unreachable_usage() -> ! {
    eprintln!("sipp: error: expected [MODEL.gguf] PROMPT");
    std::process::exit(2)
}
