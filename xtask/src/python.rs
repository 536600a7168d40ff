//! The Python side: a project venv under `.build/venv` with pinned tools, and the
//! `sipppy` wheel built by maturin into the shared `target/` (one llama.cpp build
//! serves cargo tests, the CLI and the wheel).

use anyhow::{Context, Result};
use std::path::PathBuf;
use xshell::{cmd, Shell};

pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    fn path_env(&self) -> String {
        let bin = self.dir.join("bin");
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
    }
}

/// Create `.build/venv` if needed and install the pinned test tools into it.
pub fn venv(sh: &Shell) -> Result<Venv> {
    let dir = sh.current_dir().join(".build").join("venv");
    if !dir.join("bin").join("python").exists() {
        cmd!(sh, "python3 -m venv {dir}").run().context("creating .build/venv (needs python3-venv)")?;
    }
    let venv = Venv { dir };
    let python = venv.python();
    cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt")
        .run()
        .context("installing the pinned Python test tools")?;
    Ok(venv)
}

/// The test embedding model (all-MiniLM-L6-v2 as GGUF) and its reference vectors, built
/// once into the models directory by `tests/models/minilm.py`.
pub fn test_models(sh: &Shell, venv: &Venv) -> Result<PathBuf> {
    let dir = sipp_models::models_dir();
    let python = venv.python();
    let out = cmd!(sh, "{python} tests/models/minilm.py {dir}").read().context("building the test embedding model")?;
    Ok(PathBuf::from(out.trim()))
}

/// Build the wheel for this machine and install it into the venv.
pub fn develop(sh: &Shell, venv: &Venv) -> Result<PathBuf> {
    let out = sh.current_dir().join(".build").join("wheels");
    let _ = sh.remove_path(&out);
    let python = venv.python();
    cmd!(sh, "{python} -m maturin build --release --quiet -o {out}")
        .env("PATH", venv.path_env())
        .run()
        .context("building the sipppy wheel")?;
    let wheel = std::fs::read_dir(&out)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("maturin produced no wheel")?;
    cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps {wheel}")
        .run()?;
    Ok(wheel)
}

/// Distributable wheel: an explicit x86-64-v3 feature level instead of this CPU's, in a
/// target dir of its own so the native build stays warm.
pub fn wheel(sh: &Shell, venv: &Venv) -> Result<()> {
    let out = sh.current_dir().join("dist");
    let python = venv.python();
    let target = sh.current_dir().join("target").join("dist");
    let arch = std::env::consts::ARCH;
    // Repair copies libgomp into the wheel by patching the cdylib in place, which also
    // patches cargo's hard-linked artifact; remove it so cargo links a clean one.
    for dir in [target.join("release").join("deps"), target.join("release"), target.join("maturin")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with("lib_sipp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let mut build = cmd!(sh, "{python} -m maturin build --release --auditwheel repair -o {out}")
        .env("PATH", venv.path_env())
        .env("CARGO_TARGET_DIR", &target);
    if arch == "x86_64" {
        build = build.env("RUSTFLAGS", "-C target-cpu=x86-64-v3");
    }
    build.run()?;
    println!("wheel written to {}", out.display());
    Ok(())
}
