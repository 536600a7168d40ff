//! `cargo xtask test`: every test, in release (one llama.cpp build serves tests, the
//! CLI and the bench).

use anyhow::Result;
use xshell::{cmd, Shell};

pub fn run(sh: &Shell, extra: &[String]) -> Result<()> {
    cmd!(sh, "cargo test --release --workspace --all-targets {extra...}").run()?;
    Ok(())
}
