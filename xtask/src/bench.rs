//! `cargo xtask bench [ARGS]`: the side-by-side benchmark (see apps/bench). Not a test.

use anyhow::Result;
use xshell::{cmd, Shell};

pub fn run(sh: &Shell, extra: &[String]) -> Result<()> {
    cmd!(sh, "cargo run --release --quiet -p sipp-bench -- {extra...}").run()?;
    Ok(())
}
