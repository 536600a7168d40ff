//! `sipp-gateway`: the first-party Sipp gateway server.
//!
//!     sipp-gateway check --config apps/gateway-server/config/local.toml
//!
//! `check` validates the TOML only: no environment variable is read, no model loaded, no
//! port bound. It prints every problem with its field path and exits 1 if there is one.
//! (`serve` lands with the server itself; see the issue tracker.)

use clap::{Parser, Subcommand};
use sipp_gateway_server::config::GatewayConfig;
use std::path::PathBuf;
use std::process::ExitCode;

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { config } => check(&config),
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
