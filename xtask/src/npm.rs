//! Node.js and npm for the project's JavaScript parts (the Admin Dashboard, the Node
//! package, the Next.js example): the version check, and npm run with its output on
//! stderr (stdout carries only answers). Node.js comes with this machine kind; Debian's
//! own nodejs (18) is too old for Vite 8 and Next.js 16, so a missing or old Node is
//! reported with what is needed instead of installed.

use crate::progress;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use xshell::{cmd, Shell};

/// Vite 8's floor (`engines.node`: ^20.19.0 || >=22.12.0); Next.js 16 needs less.
const NODE_MIN: (u32, u32) = (20, 19);

pub fn check_node(sh: &Shell) -> Result<()> {
    let version = cmd!(sh, "node --version").quiet().ignore_stderr().read().context(
        "Node.js is missing: the JavaScript parts are built with npm (Node.js >= 20.19 with npm; \
         machines of this kind come with it)",
    )?;
    let parsed: Vec<u32> = version.trim().trim_start_matches('v').split('.').filter_map(|p| p.parse().ok()).collect();
    let (major, minor) = (parsed.first().copied().unwrap_or(0), parsed.get(1).copied().unwrap_or(0));
    if (major, minor) < NODE_MIN || (major == 21) || (major == 22 && minor < 12) {
        bail!("Node.js {} is too old: Vite 8 needs ^20.19.0 or >=22.12.0", version.trim());
    }
    cmd!(sh, "npm --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .context("npm is missing (comes with Node.js)")?;
    Ok(())
}

/// `npm args…`, quiet about updates and funding.
pub fn npm(args: &[&str]) -> Command {
    let mut c = Command::new("npm");
    c.args(args).env("npm_config_update_notifier", "false").env("npm_config_fund", "false");
    c
}

/// `npm ci` in `dir` unless its `node_modules` already holds the committed lockfile.
pub fn ci(dir: &Path, what: &str) -> Result<()> {
    if !dir.join("node_modules").join(".package-lock.json").is_file() || lock_changed(dir) {
        progress::run_to_stderr_with(
            dir,
            &format!("installing {what}'s npm packages (npm ci)"),
            "under a minute",
            &mut npm(&["ci", "--no-audit"]),
        )?;
    }
    Ok(())
}

/// The committed lockfile is newer than what `npm ci` last installed.
fn lock_changed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(dir.join("package-lock.json")), modified(dir.join("node_modules").join(".package-lock.json"))) {
        (Some(lock), Some(installed)) => lock > installed,
        _ => true,
    }
}
