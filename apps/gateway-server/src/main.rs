//! `sipp-gateway`: the first-party Sipp gateway server.
//!
//!     sipp-gateway check --config apps/gateway-server/config/local.toml
//!     set -a; . apps/gateway-server/.env; set +a
//!     sipp-gateway serve --config apps/gateway-server/config/local.toml
//!
//! `check` validates the TOML only: no environment variable is read, no model loaded, no
//! port bound. It prints every problem with its field path and exits 1 if there is one.
//! `serve` also reads the secrets the TOML names, binds the public and management
//! listeners, loads the targets and runs until Ctrl-C or SIGTERM. Logs are JSON lines on
//! stderr, written in batches (at most 100 ms late; warnings and errors at once;
//! `log_writer`). `RUST_LOG` filters; the default `info,llama-cpp-2=warn` keeps
//! llama.cpp's load chatter out.

use clap::{Parser, Subcommand};
use sipp_gateway_server::config::GatewayConfig;
use sipp_gateway_server::{secrets, serve};
use std::path::PathBuf;
use std::process::ExitCode;

// glibc's malloc was a tenth of a proxied request's CPU time (perf, one pinned core);
// every request allocates and frees its buffers, headers and JSON on one thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "sipp-gateway", version, about = "The first-party Sipp gateway server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config file without reading secrets, loading models or binding ports.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Read secrets, bind both listeners, load targets and serve until Ctrl-C/SIGTERM.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
    }
}

fn serve(path: &std::path::Path) -> ExitCode {
    let logs = sipp_gateway_server::log_writer::BufferedStderr::start();
    tracing_subscriber::fmt()
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .event_format(sipp_gateway_server::log_format::JsonLines)
        .with_writer(logs.clone())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,llama-cpp-2=warn")),
        )
        .init();
    let result = (|| -> anyhow::Result<()> {
        let config = GatewayConfig::load(path).map_err(|p| anyhow::anyhow!("{}: {p}", path.display()))?;
        let prepared = serve::prepare(config, &secrets::env)?;
        let runtime = runtime()?;
        runtime.block_on(serve::run(prepared, shutdown_signal()))
    })();
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sipp-gateway stopped");
            eprintln!("sipp-gateway: {e:#}");
            ExitCode::FAILURE
        }
    };
    logs.flush();
    code
}

/// tokio's runtime: the multi-threaded one (a worker per CPU the process may use), or,
/// when it may use one CPU (`taskset -c 0`, a one-CPU container), the current-thread
/// one, which does the same work without the work-stealing scheduler's bookkeeping.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    if std::thread::available_parallelism().is_ok_and(|n| n.get() == 1) {
        tracing::info!(runtime = "current_thread", "one CPU available: tokio runs on this thread");
        return tokio::runtime::Builder::new_current_thread().enable_all().build();
    }
    tracing::info!(runtime = "multi_thread", "tokio runs a worker per available CPU");
    tokio::runtime::Runtime::new()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let config = match GatewayConfig::load(path) {
        Ok(c) => c,
        Err(problem) => {
            eprintln!("{}: {problem}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let problems = config.validate();
    if !problems.is_empty() {
        eprintln!("{}: {} problem{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" });
        for p in &problems {
            eprintln!("  {p}");
        }
        return ExitCode::FAILURE;
    }
    let targets: Vec<String> = config.targets.iter().map(|t| format!("{} ({})", t.name(), t.type_name())).collect();
    println!(
        "{}: ok — targets {}; {} token{}; public {}, management {}",
        path.display(),
        targets.join(", "),
        config.tokens.len(),
        if config.tokens.len() == 1 { "" } else { "s" },
        config.public_bind,
        config.management_bind
    );
    ExitCode::SUCCESS
}
