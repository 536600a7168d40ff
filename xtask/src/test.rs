//! `cargo xtask test`: every test. Rust tests run in release (one llama.cpp build serves
//! tests, the CLI and the wheel); then the gateway is staged with its Admin Dashboard
//! (`build gateway-server`) and the wheel is built and installed into the project venv
//! for pytest (with llama.cpp's `llama-server` built for the real-server tests),
//! mypy --strict on the package and examples, and stubtest; then the Node package is
//! packed, installed into a fresh project and tested there (`tests/node`); the browser
//! package is packed and driven in Chromium (`web.rs`). `cargo fmt --check` and clippy
//! (`-D warnings`) run first.

use crate::{llama_server, node, python, web};
use anyhow::Result;
use std::path::Path;
use xshell::{cmd, Shell};

pub fn run(sh: &Shell, extra: &[String]) -> Result<()> {
    // Cheap and first: a formatting or lint failure should not wait for the slow tests.
    lint(sh)?;
    // The venv comes first: it builds the test embedding model the Rust tests use too.
    let venv = python::venv(sh)?;
    let embed_model = python::test_models(sh, &venv)?;
    // The PyO3 crate is tested through Python; its cdylib is built by maturin below.
    cmd!(sh, "cargo test --release --workspace --all-targets --exclude sipp-python {extra...}").run()?;
    python::develop(sh, &venv)?;
    // A real server for the provider adapters (tests/python/test_real_server.py).
    let server = llama_server::ensure(sh, &venv)?;
    // Built by the cargo test step above (its integration tests run the binary), staged
    // with the dashboard beside it, as an operator runs it.
    let gateway = crate::build::gateway_server(sh, None, crate::build::RELEASE)?.join("sipp-gateway");
    // The Node package, packed, and the Next.js example built on it (pytest calls its
    // routes; the Node tests below install the same tarballs).
    let packed = node::package_checked(sh)?;
    let nextjs = node::nextjs(sh, &packed)?;
    // The browser package, packed, and the two pages built on it (tests/python/test_browser.py).
    let (browser_app, web_example) = web::pages(sh, &web::package(sh)?)?;
    let py = venv.python();
    cmd!(sh, "{py} -m pytest tests/python")
        .env("SIPP_LLAMA_SERVER", &server)
        .env("SIPP_GATEWAY_BIN", &gateway)
        .env("SIPP_NEXTJS_DIR", &nextjs)
        .env("SIPP_BROWSER_APP", &browser_app)
        .env("SIPP_WEB_EXAMPLE", &web_example)
        .run()?;
    cmd!(sh, "{py} -m mypy").run()?;
    cmd!(sh, "{py} -m mypy.stubtest sipp._sipp").run()?;
    // The Node package as a user installs it (packed tarballs in a fresh project).
    node_tests(sh, &packed, &embed_model, &gateway, &server)
}

/// `cargo xtask test-node`: only the Node package's tests, with the servers they use.
pub fn node_only(sh: &Shell) -> Result<()> {
    let venv = python::venv(sh)?;
    let embed_model = python::test_models(sh, &venv)?;
    let server = llama_server::ensure(sh, &venv)?;
    let gateway = crate::build::gateway_server(sh, Some("cpu"), crate::build::RELEASE)?.join("sipp-gateway");
    let packed = node::package_checked(sh)?;
    node_tests(sh, &packed, &embed_model, &gateway, &server)?;
    // The Next.js routes, called by a Sipp gateway endpoint and curl (a pytest file).
    let nextjs = node::nextjs(sh, &packed)?;
    let py = venv.python();
    cmd!(sh, "{py} -m pytest tests/python/test_nextjs.py").env("SIPP_NEXTJS_DIR", &nextjs).run()?;
    Ok(())
}

fn node_tests(sh: &Shell, packed: &node::Packed, embed_model: &Path, gateway: &Path, server: &Path) -> Result<()> {
    let model = sipp_models::default_model()?;
    node::test(
        sh,
        packed,
        &[
            ("SIPP_TEST_MODEL", &model),
            ("SIPP_TEST_EMBED_MODEL", embed_model),
            ("SIPP_GATEWAY_BIN", gateway),
            ("SIPP_LLAMA_SERVER", server),
        ],
    )
}

/// `cargo fmt --check` and clippy with warnings as errors over every crate and target.
pub fn lint(sh: &Shell) -> Result<()> {
    // rustup's default profile has both; a minimal-profile toolchain gets them here.
    if cmd!(sh, "cargo clippy --version").quiet().ignore_stdout().ignore_stderr().run().is_err()
        || cmd!(sh, "cargo fmt --version").quiet().ignore_stdout().ignore_stderr().run().is_err()
    {
        cmd!(sh, "rustup component add rustfmt clippy").run()?;
    }
    cmd!(sh, "cargo fmt --all --check").run()?;
    cmd!(sh, "cargo clippy --release --workspace --all-targets -- -D warnings").run()?;
    Ok(())
}
