//! `cargo xtask fuzz --minutes N` and `cargo xtask soak --minutes N`: the gateway's fuzz
//! and soak suites run for longer than `cargo xtask test` gives them (10,000 bodies; a
//! 2-minute soak). Extra arguments go to the test binary (`--seed` is `SIPP_FUZZ_SEED`).

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// Which long run.
#[derive(Debug, Clone, Copy)]
pub enum Suite {
    Fuzz,
    Soak,
}

pub fn run(sh: &Shell, suite: Suite, args: &[String]) -> Result<()> {
    let mut minutes: u64 = match suite {
        Suite::Fuzz => 5,
        Suite::Soak => 10,
    };
    let mut seed = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => minutes = it.next().context("--minutes needs a number")?.parse().context("--minutes")?,
            "--seed" => seed = Some(it.next().context("--seed needs a number")?.clone()),
            other => bail!("unknown argument `{other}` (try --minutes N, --seed S for fuzz)"),
        }
    }
    let seconds = (minutes * 60).to_string();
    let (test, var) = match suite {
        Suite::Fuzz => ("fuzz", "SIPP_FUZZ_SECONDS"),
        Suite::Soak => ("soak", "SIPP_SOAK_SECONDS"),
    };
    eprintln!("{test}: {minutes} minute(s); the report is printed at the end");
    let mut c = cmd!(sh, "cargo test --release -p sipp-gateway-server --test {test} -- --nocapture").env(var, seconds);
    if let Some(s) = seed {
        c = c.env("SIPP_FUZZ_SEED", s);
    }
    c.run()?;
    Ok(())
}
