//! The gateway's Admin Dashboard (`apps/gateway-server/admin-ui`, React + Vite): `npm ci`
//! from the committed lockfile, then the type check and the Vite build into its `dist/`,
//! with npm's output on stderr (stdout carries only answers).

use crate::{npm, progress};
use anyhow::{bail, Result};
use std::path::PathBuf;
use xshell::Shell;

pub fn dir(sh: &Shell) -> PathBuf {
    sh.current_dir().join("apps").join("gateway-server").join("admin-ui")
}

/// Build the dashboard; returns its `dist` directory.
pub fn build(sh: &Shell) -> Result<PathBuf> {
    npm::check_node(sh)?;
    let dir = dir(sh);
    npm::ci(&dir, "the dashboard")?;
    progress::run_to_stderr_with(
        &dir,
        "building the Admin Dashboard (tsc + vite)",
        "",
        &mut npm::npm(&["run", "build"]),
    )?;
    let dist = dir.join("dist");
    if !dist.join("index.html").is_file() {
        bail!("the dashboard build wrote no {}", dist.join("index.html").display());
    }
    Ok(dist)
}
