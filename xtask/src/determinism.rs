//! `cargo xtask determinism [--avx2]`: the determinism matrix and the snapshot tests
//! (Rust), on this CPU's native build or — `--avx2` — on a build for x86-64-v3 (AVX2,
//! FMA, F16C, no AVX-512) in its own target dir. Machines of one kind differ in SIMD
//! width and ggml sums differently on each: an AVX-512 machine checks the AVX2 kernels
//! this way. The first `--avx2` run compiles llama.cpp again (about 10 minutes).

use anyhow::Result;
use xshell::{cmd, Shell};

pub fn run(sh: &Shell, extra: &[String]) -> Result<()> {
    let avx2 = extra.iter().any(|a| a == "--avx2");
    let rest: Vec<&String> = extra.iter().filter(|a| *a != "--avx2").collect();
    let mut test = cmd!(sh, "cargo test --release -p sipp-rs --test determinism --test kv_snapshots {rest...}");
    if avx2 {
        // RUSTFLAGS replaces `.cargo/config.toml`'s target-cpu=native; llama-cpp-sys-2
        // turns the target features into GGML_AVX2/FMA/F16C and leaves AVX-512 off.
        test = test.env("RUSTFLAGS", "-C target-cpu=x86-64-v3").env("CARGO_TARGET_DIR", "target/avx2");
        eprintln!("determinism: x86-64-v3 build (AVX2, no AVX-512) in target/avx2");
    }
    test.run()?;
    Ok(())
}
