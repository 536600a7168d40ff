//! The gateway's Admin Dashboard (`apps/gateway-server/admin-ui`, React + Vite): `npm ci`
//! from the committed lockfile, then the type check and the Vite build into its `dist/`,
//! with npm's output on stderr (stdout carries only answers). Node.js comes with this
//! machine kind; Debian's own nodejs (18) is too old for Vite 8, so a missing or old Node
//! is reported with what is needed instead of installed.

use crate::progress;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use xshell::{cmd, Shell};

/// Vite 8's floor (`engines.node`: ^20.19.0 || >=22.12.0).
const NODE_MIN: (u32, u32) = (20, 19);

pub fn dir(sh: &Shell) -> PathBuf {
    sh.current_dir().join("apps").join("gateway-server").join("admin-ui")
}

/// Build the dashboard; returns its `dist` directory.
pub fn build(sh: &Shell) -> Result<PathBuf> {
    check_node(sh)?;
    let dir = dir(sh);
    // `npm ci` installs exactly the lockfile (and fails if package.json disagrees with it).
    let npm = |args: &[&str]| {
        let mut c = std::process::Command::new("npm");
        c.args(args).env("npm_config_update_notifier", "false").env("npm_config_fund", "false");
        c
    };
    if !dir.join("node_modules").join(".package-lock.json").is_file() || lock_changed(&dir) {
        progress::run_to_stderr_with(
            &dir,
            "installing the dashboard's npm packages (npm ci)",
            "under a minute",
            &mut npm(&["ci", "--no-audit"]),
        )?;
    }
    progress::run_to_stderr_with(&dir, "building the Admin Dashboard (tsc + vite)", "", &mut npm(&["run", "build"]))?;
    let dist = dir.join("dist");
    if !dist.join("index.html").is_file() {
        bail!("the dashboard build wrote no {}", dist.join("index.html").display());
    }
    Ok(dist)
}

/// The committed lockfile is newer than what `npm ci` last installed.
fn lock_changed(dir: &std::path::Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(dir.join("package-lock.json")), modified(dir.join("node_modules").join(".package-lock.json"))) {
        (Some(lock), Some(installed)) => lock > installed,
        _ => true,
    }
}

fn check_node(sh: &Shell) -> Result<()> {
    let version = cmd!(sh, "node --version").quiet().ignore_stderr().read().context(
        "Node.js is missing: the Admin Dashboard is built with npm (Node.js >= 20.19 with npm; \
         machines of this kind come with it)",
    )?;
    let parsed: Vec<u32> = version.trim().trim_start_matches('v').split('.').filter_map(|p| p.parse().ok()).collect();
    let (major, minor) = (parsed.first().copied().unwrap_or(0), parsed.get(1).copied().unwrap_or(0));
    if (major, minor) < NODE_MIN || (major == 21) || (major == 22 && minor < 12) {
        bail!("Node.js {} is too old for Vite 8: it needs ^20.19.0 or >=22.12.0", version.trim());
    }
    cmd!(sh, "npm --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .context("npm is missing (comes with Node.js)")?;
    Ok(())
}
