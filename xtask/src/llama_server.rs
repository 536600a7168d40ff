//! llama.cpp's own `llama-server`, built from the llama.cpp that llama-cpp-python's sdist
//! vendors (the source the benchmark anchors use). The tests run Sipp's provider adapters
//! against it: a real server speaking OpenAI's and Anthropic's APIs, not only our mocks.
//! Cached in `.build/llama-server`; rebuilt when the pinned version changes.

use crate::python::Venv;
use anyhow::{Context, Result};
use std::path::PathBuf;
use xshell::{cmd, Shell};

/// The llama-cpp-python release whose vendored llama.cpp is built (also benchmarked).
pub const LLAMA_CPP_PYTHON_VERSION: &str = "0.3.36";

/// What Sipp's own build undefines for ggml (`.cargo/config.toml` sets it and says why:
/// the AMX kernels crash, AVX512-FP16 sums f16 in half precision). Every llama.cpp anchor
/// is built with it too, so it runs the same kernels as Sipp.
pub const GGML_UNDEFINES: &str = "-U__AMX_INT8__ -U__AVX512FP16__";

/// Path of the built `llama-server`, building it first if needed (~10 min on 2 cores).
pub fn ensure(sh: &Shell, venv: &Venv) -> Result<PathBuf> {
    ensure_tool(sh, venv, "llama-server")
}

/// Path of a llama.cpp tool (`llama-server`, `llama-bench`) from the same sources: the
/// sources are fetched and configured once, each tool is built when first asked for.
pub fn ensure_tool(sh: &Shell, venv: &Venv, tool: &str) -> Result<PathBuf> {
    let version = LLAMA_CPP_PYTHON_VERSION;
    let root = sh.current_dir().join(".build").join("llama-server");
    let build = root.join("build");
    let binary = build.join("bin").join(tool);
    // The flags are part of the stamp: a build made with other flags is made again.
    let (c_flags, cxx_flags) =
        (format!("-DCMAKE_C_FLAGS=-w {GGML_UNDEFINES}"), format!("-DCMAKE_CXX_FLAGS=-w {GGML_UNDEFINES}"));
    let stamp = root.join("VERSION");
    let stamped = format!("{version} {c_flags} {cxx_flags}");
    if std::fs::read_to_string(&stamp).is_ok_and(|v| v.trim() == stamped) {
        if !binary.exists() {
            build_tool(sh, &build, tool)?;
        }
        return Ok(binary);
    }
    eprintln!("llama-server: building llama.cpp's server from llama-cpp-python {version}'s sources (once)");
    let _ = sh.remove_path(&root);
    let src = root.join("src");
    sh.create_dir(&src)?;
    let python = venv.python();
    cmd!(sh, "{python} -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: llama-cpp-python=={version} -d {src}")
        .run()
        .context("downloading the llama-cpp-python sdist")?;
    let tarball = src.join(format!("llama_cpp_python-{version}.tar.gz"));
    let vendored = format!("llama_cpp_python-{version}/vendor/llama.cpp");
    cmd!(sh, "tar -xzf {tarball} -C {src} {vendored}").run()?;
    sh.remove_path(&tarball)?;
    let llama = src.join(&vendored);
    // `-w`: a test fixture's compiler warnings (thousands, from AVX-512 headers) would bury
    // the test log. No AMX and no AVX512-FP16, as in Sipp's own build (.cargo/config.toml
    // says why): the anchor runs the same kernels.
    cmd!(
        sh,
        "cmake -S {llama} -B {build} -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
         -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=ON
         {c_flags} {cxx_flags}"
    )
    .quiet()
    .ignore_stdout()
    .run()
    .context("configuring llama.cpp")?;
    build_tool(sh, &build, tool)?;
    std::fs::write(&stamp, stamped)?;
    Ok(binary)
}

fn build_tool(sh: &Shell, build: &std::path::Path, tool: &str) -> Result<()> {
    let jobs = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).to_string();
    cmd!(sh, "cmake --build {build} --target {tool} -j {jobs}")
        .ignore_stdout()
        .run()
        .with_context(|| format!("building {tool}"))
}
