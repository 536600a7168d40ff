//! `cargo xtask build gateway-server`: the runnable gateway distribution the spec's
//! "Generated Executable" describes, staged in `.build/artifacts/gateway-server`: the
//! `sipp-gateway` executable with the Admin Dashboard's Vite build in `admin-ui/` beside
//! it (where the binary looks for it). llama.cpp is linked statically; the system's
//! libgomp and libstdc++ are the only runtime libraries it needs.

use crate::{admin_ui, progress};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::Shell;

pub fn run(sh: &Shell, what: &[String]) -> Result<()> {
    match what.first().map(String::as_str) {
        Some("gateway-server") => {
            let staged = gateway_server(sh, true)?;
            println!("{}", staged.display());
            Ok(())
        }
        other => bail!("build what? `cargo xtask build gateway-server` (got {other:?})"),
    }
}

/// Stage the gateway (building the binary first when `compile`); returns the directory.
pub fn gateway_server(sh: &Shell, compile: bool) -> Result<PathBuf> {
    let root = sh.current_dir();
    if compile {
        progress::run_to_stderr(
            &root,
            "building sipp-gateway",
            "the first build compiles llama.cpp: about 10 minutes on 2 cores",
            "cargo",
            &["build", "--release", "-p", "sipp-gateway-server"],
        )?;
    }
    let dist = admin_ui::build(sh)?;
    let out = root.join(".build").join("artifacts").join("gateway-server");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let binary = root.join("target").join("release").join("sipp-gateway");
    std::fs::copy(&binary, out.join("sipp-gateway")).with_context(|| format!("copying {}", binary.display()))?;
    copy_dir(&dist, &out.join("admin-ui"))?;
    eprintln!("build: staged sipp-gateway and admin-ui/ in {}", out.display());
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
