//! The browser package `@sipp/sipp` (`packages/sipp`) and the pages built on it.
//! `cargo xtask build web` generates its shared parts (the schema's types and the error
//! classes of `@sipp/sipp-server`, see packages/sipp/scripts/build.mjs), compiles it, runs
//! its Node tests (a loopback mock: the exact bytes sent) and packs it into
//! `.build/artifacts/web/`. The tests then install that tarball, as a user's app would,
//! into the Vite test page (`tests/browser/app`) and the React example (`examples/web`)
//! and build both; `tests/python/test_browser.py` drives them in Chromium.
//!
//! The package's local endpoints run `packages/sipp/runtime/sipp_wasm.cpp` over the same
//! llama.cpp the native crates build (llama-cpp-sys-2's copy), compiled by Debian's
//! Emscripten into `.build/wasm/single-thread/sipp-wasm.{js,wasm}` and, with `-pthread`,
//! `.build/wasm/pthread/sipp-wasm-pthread.{js,wasm,worker.js}`: SIMD128, C++ exceptions
//! (llama.cpp reports load failures by throwing), 32-bit memory (Emscripten
//! 3.1.6 predates memory64, which llama.cpp's CMake turns on by default).

use crate::{npm, progress};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::Shell;

fn package_dir(sh: &Shell) -> PathBuf {
    sh.current_dir().join("packages").join("sipp")
}

/// Flags every object of both runtimes is compiled with (llama.cpp, ggml and the shim);
/// each variant adds its own exception handling (`Variant::compile`).
const WASM_FLAGS: &str = "-msimd128";

/// What the runtime's link exports and how it loads (an ES module factory, in a page or
/// a worker, memory that grows to 4 GiB, WORKERFS to read a File without a copy).
const LINK_FLAGS: &[&str] = &[
    "-sMODULARIZE=1",
    "-sEXPORT_ES6=1",
    "-sEXPORT_NAME=createSippWasm",
    "-sENVIRONMENT=web,worker",
    "-sALLOW_MEMORY_GROWTH=1",
    "-sMAXIMUM_MEMORY=4GB",
    "-sINITIAL_MEMORY=64MB",
    "-sTOTAL_STACK=1MB",
    "-sEXPORTED_RUNTIME_METHODS=FS,ccall,UTF8ToString",
    "-sEXPORTED_FUNCTIONS=_malloc,_free",
    "-sFORCE_FILESYSTEM=1",
    "-lworkerfs.js",
];

/// The llama.cpp sources llama-cpp-sys-2 builds (one version for native and browser).
fn llama_cpp_source(root: &Path) -> Result<PathBuf> {
    let out = std::process::Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let manifest = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "llama-cpp-sys-2"))
        .and_then(|p| p["manifest_path"].as_str())
        .context("llama-cpp-sys-2 is not in the workspace's dependencies")?;
    let dir = Path::new(manifest).parent().context("manifest path")?.join("llama.cpp");
    if !dir.join("CMakeLists.txt").is_file() {
        bail!("{} has no llama.cpp sources", dir.display());
    }
    Ok(dir)
}

/// Emscripten's tools: Debian's packaged Node modules (acorn) are found through NODE_PATH,
/// which a Node.js not from Debian does not search by itself.
fn emscripten(program: &str) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    c.env("NODE_PATH", "/usr/share/nodejs");
    c
}

/// One build of the runtime: the single-thread one, or the pthread one (`-pthread`, a
/// pool of worker threads made at load: a thread started later would need the event loop
/// of the worker that is busy waiting for it).
struct Variant {
    dir: &'static str,
    output: &'static str,
    compile: &'static str,
    link: &'static [&'static str],
}

/// Native WebAssembly exceptions (llama.cpp reports load failures by throwing).
const SINGLE_THREAD: Variant =
    Variant { dir: "single-thread", output: "sipp-wasm.js", compile: " -fwasm-exceptions", link: &[] };
/// Emscripten's JavaScript exceptions: with `-pthread`, 3.1.6's native-exception build
/// matches no typed `catch` (a thrown std::out_of_range reaches only `catch (...)`), and
/// llama.cpp's chat template lookup catches one on every chat. The math is ggml's C code,
/// which throws nothing and pays nothing for it. The pool size is packages/sipp's
/// `MAX_THREADS` (src/local.ts): a thread beyond the pool would wait forever.
const PTHREAD: Variant = Variant {
    dir: "pthread",
    output: "sipp-wasm-pthread.js",
    compile: " -fexceptions -pthread",
    link: &["-sUSE_PTHREADS=1", "-sPTHREAD_POOL_SIZE=4"],
};

/// Both runtimes, each built once per source and flag set. Returns (single, pthread).
pub fn runtimes(sh: &Shell) -> Result<(PathBuf, PathBuf)> {
    Ok((runtime(sh, &SINGLE_THREAD)?, runtime(sh, &PTHREAD)?))
}

fn runtime(sh: &Shell, v: &Variant) -> Result<PathBuf> {
    let root = sh.current_dir();
    let wasm = root.join(".build").join("wasm");
    let out = wasm.join(v.dir);
    let shim = root.join("packages").join("sipp").join("runtime").join("sipp_wasm.cpp");
    let source = llama_cpp_source(&root)?;
    let flags = format!("{WASM_FLAGS}{}", v.compile);
    let stamp = format!(
        "{}\n{flags}\n{} {}\n{}\n",
        source.display(),
        LINK_FLAGS.join(" "),
        v.link.join(" "),
        std::fs::read_to_string(&shim).context("reading runtime/sipp_wasm.cpp")?
    );
    let stamp_file = out.join("stamp");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) && out.join(v.output).is_file() {
        return Ok(out);
    }
    let build = wasm.join(format!("build-{}", v.dir));
    let c_flags = format!("-DCMAKE_C_FLAGS={flags}");
    let cxx_flags = format!("-DCMAKE_CXX_FLAGS={flags}");
    let mut configure = emscripten("emcmake");
    configure.arg("cmake").arg("-S").arg(&source).arg("-B").arg(&build).args([
        "-DCMAKE_BUILD_TYPE=Release",
        &c_flags,
        &cxx_flags,
        "-DBUILD_SHARED_LIBS=OFF",
        "-DLLAMA_WASM_MEM64=OFF",
        "-DLLAMA_BUILD_HTML=OFF",
        "-DLLAMA_BUILD_COMMON=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_TOOLS=OFF",
        "-DLLAMA_BUILD_SERVER=OFF",
        "-DLLAMA_BUILD_APP=OFF",
        "-DLLAMA_CURL=OFF",
        "-DGGML_OPENMP=OFF",
    ]);
    let what = format!("the {} WebAssembly runtime", v.dir);
    progress::run_to_stderr_with(
        &root,
        &format!("configuring llama.cpp for {what} (emcmake cmake)"),
        "",
        &mut configure,
    )?;
    let jobs = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).to_string();
    let mut compile = emscripten("cmake");
    compile.arg("--build").arg(&build).args(["--target", "llama", "-j", &jobs]);
    progress::run_to_stderr_with(
        &root,
        &format!("compiling llama.cpp and ggml for {what}"),
        "about 5 minutes",
        &mut compile,
    )?;
    std::fs::create_dir_all(&out)?;
    let include = |p: &str| format!("-I{}", source.join(p).display());
    let lib = |p: &str| build.join(p).display().to_string();
    let mut link = emscripten("em++");
    link.args(["-O3", "-std=c++17"])
        .args(flags.split(' '))
        .args([include("include"), include("ggml/include")])
        .arg(&shim)
        .args([
            lib("src/libllama.a"),
            lib("ggml/src/libggml.a"),
            lib("ggml/src/libggml-cpu.a"),
            lib("ggml/src/libggml-base.a"),
        ])
        .arg("-o")
        .arg(out.join(v.output))
        .args(LINK_FLAGS)
        .args(v.link);
    progress::run_to_stderr_with(&root, &format!("linking {what} (em++, wasm-opt)"), "about 3 minutes", &mut link)?;
    std::fs::write(&stamp_file, stamp)?;
    Ok(out)
}

/// Build, test and pack `@sipp/sipp`; returns the tarball.
pub fn package(sh: &Shell) -> Result<PathBuf> {
    npm::check_node(sh)?;
    let (single, pthread) = runtimes(sh)?;
    // The generator of the schema's types lives in the Node package (one generator).
    npm::ci(&crate::node::wrapper_dir(sh), "@sipp/sipp-server")?;
    let dir = package_dir(sh);
    npm::ci(&dir, "@sipp/sipp")?;
    progress::run_to_stderr_with(
        &dir,
        "building @sipp/sipp (shared types + tsc + the runtime)",
        "",
        npm::npm(&["run", "build"]).env("SIPP_WASM_DIR", &single).env("SIPP_WASM_PTHREAD_DIR", &pthread),
    )?;
    progress::run_to_stderr_with(
        &dir,
        "testing @sipp/sipp against a loopback mock (node --test)",
        "",
        std::process::Command::new("node").args(["--test", "--test-reporter=spec", "test/"]),
    )?;
    let out = sh.current_dir().join(".build").join("artifacts").join("web");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let output = npm::npm(&["pack", "--silent", "--pack-destination", &out.display().to_string()])
        .current_dir(&dir)
        .output()
        .context("npm pack @sipp/sipp")?;
    let name = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_string();
    let tarball = out.join(&name);
    if !output.status.success() || name.is_empty() || !tarball.is_file() {
        bail!("npm pack @sipp/sipp failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    eprintln!("build: packed {}", tarball.display());
    Ok(tarball)
}

/// The pages the browser tests serve, each built on the packed package (`build_page`; the
/// React example type-checks first). Returns (test page, example).
pub fn pages(sh: &Shell, tarball: &Path) -> Result<(PathBuf, PathBuf)> {
    let root = sh.current_dir();
    let app = root.join("tests").join("browser").join("app");
    let example = root.join("examples").join("web");
    for (dir, what) in [(&app, "the browser test page"), (&example, "the React example (examples/web)")] {
        build_page(dir, what, tarball)?;
    }
    Ok((app, example))
}

/// One page on the packed package: its packages from the lockfile, the tarball added
/// without touching package.json (it is on no registry here), then `npm run build`.
pub fn build_page(dir: &Path, what: &str, tarball: &Path) -> Result<()> {
    npm::ci(dir, what)?;
    progress::run_to_stderr_with(
        dir,
        &format!("adding the packed @sipp/sipp to {what}"),
        "",
        &mut npm::npm(&["install", "--no-save", "--no-audit", &tarball.display().to_string()]),
    )?;
    progress::run_to_stderr_with(dir, &format!("building {what} (vite build)"), "", &mut npm::npm(&["run", "build"]))
}
