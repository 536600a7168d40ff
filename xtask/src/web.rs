//! The browser package `@sipp/sipp` (`packages/sipp`) and the pages built on it.
//! `cargo xtask build web` generates its shared parts (the schema's types and the error
//! classes of `@sipp/sipp-server`, see packages/sipp/scripts/build.mjs), compiles it, runs
//! its Node tests (a loopback mock: the exact bytes sent) and packs it into
//! `.build/artifacts/web/`. The tests then install that tarball, as a user's app would,
//! into the Vite test page (`tests/browser/app`) and the React example (`examples/web`)
//! and build both; `tests/python/test_browser.py` drives them in Chromium.

use crate::{npm, progress};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::Shell;

fn package_dir(sh: &Shell) -> PathBuf {
    sh.current_dir().join("packages").join("sipp")
}

/// Build, test and pack `@sipp/sipp`; returns the tarball.
pub fn package(sh: &Shell) -> Result<PathBuf> {
    npm::check_node(sh)?;
    // The generator of the schema's types lives in the Node package (one generator).
    npm::ci(&crate::node::wrapper_dir(sh), "@sipp/sipp-server")?;
    let dir = package_dir(sh);
    npm::ci(&dir, "@sipp/sipp")?;
    progress::run_to_stderr_with(
        &dir,
        "building @sipp/sipp (shared types + tsc)",
        "",
        &mut npm::npm(&["run", "build"]),
    )?;
    progress::run_to_stderr_with(
        &dir,
        "testing @sipp/sipp against a loopback mock (node --test)",
        "",
        std::process::Command::new("node").args(["--test", "--test-reporter=spec", "test/"]),
    )?;
    let out = sh.current_dir().join(".build").join("artifacts").join("web");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let output = npm::npm(&["pack", "--silent", "--pack-destination", &out.display().to_string()])
        .current_dir(&dir)
        .output()
        .context("npm pack @sipp/sipp")?;
    let name = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_string();
    let tarball = out.join(&name);
    if !output.status.success() || name.is_empty() || !tarball.is_file() {
        bail!("npm pack @sipp/sipp failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    eprintln!("build: packed {}", tarball.display());
    Ok(tarball)
}

/// The pages the browser tests serve: their packages from the lockfile, the packed
/// `@sipp/sipp` added without touching package.json (it is on no registry here), then
/// `npm run build` (the React example type-checks first). Returns (test page, example).
pub fn pages(sh: &Shell, tarball: &Path) -> Result<(PathBuf, PathBuf)> {
    let root = sh.current_dir();
    let app = root.join("tests").join("browser").join("app");
    let example = root.join("examples").join("web");
    for (dir, what) in [(&app, "the browser test page"), (&example, "the React example (examples/web)")] {
        npm::ci(dir, what)?;
        progress::run_to_stderr_with(
            dir,
            &format!("adding the packed @sipp/sipp to {what}"),
            "",
            &mut npm::npm(&["install", "--no-save", "--no-audit", &tarball.display().to_string()]),
        )?;
        progress::run_to_stderr_with(
            dir,
            &format!("building {what} (vite build)"),
            "",
            &mut npm::npm(&["run", "build"]),
        )?;
    }
    Ok((app, example))
}
