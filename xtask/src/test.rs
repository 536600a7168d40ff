//! `cargo xtask test`: every test. Rust tests run in release (one llama.cpp build serves
//! tests, the CLI and the wheel); then the wheel is built and installed into the project
//! venv for pytest, mypy --strict on the package and examples, and stubtest.

use crate::python;
use anyhow::Result;
use xshell::{cmd, Shell};

pub fn run(sh: &Shell, extra: &[String]) -> Result<()> {
    // The venv comes first: it builds the test embedding model the Rust tests use too.
    let venv = python::venv(sh)?;
    python::test_models(sh, &venv)?;
    // The PyO3 crate is tested through Python; its cdylib is built by maturin below.
    cmd!(sh, "cargo test --release --workspace --all-targets --exclude sipp-python {extra...}").run()?;
    python::develop(sh, &venv)?;
    let py = venv.python();
    cmd!(sh, "{py} -m pytest tests/python").run()?;
    cmd!(sh, "{py} -m mypy").run()?;
    cmd!(sh, "{py} -m mypy.stubtest sipp._sipp").run()?;
    Ok(())
}
