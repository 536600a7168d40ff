//! The Node package `@sipp/sipp-server` (`packages/sipp-server`; its native module is the
//! napi-rs crate `bindings/node`). `cargo xtask build node [--backend B]` builds the
//! module in release, puts it in the platform package (`npm/linux-x64-gnu`, as
//! `sipp-server.<backend>.node`, the name the loader looks for), builds the wrapper
//! (schema types, tsc) and packs both into `.build/artifacts/node/`. The tests install
//! those two tarballs into an empty project outside the checkout (`$TMPDIR/sipp-node-e2e`),
//! as a user would, and run there.

use crate::{npm, progress};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::Shell;

/// The platform package built here; the wrapper declares the others.
const TRIPLE: &str = "linux-x64-gnu";

#[derive(Debug)]
pub struct Packed {
    pub wrapper: PathBuf,
    pub platform: PathBuf,
}

pub fn wrapper_dir(sh: &Shell) -> PathBuf {
    sh.current_dir().join("packages").join("sipp-server")
}

/// `package` for the tests: first a check that the committed types are what the schema
/// gives (a changed Rust type fails here, not in a user's editor).
pub fn package_checked(sh: &Shell) -> Result<Packed> {
    let wrapper = wrapper_dir(sh);
    npm::check_node(sh)?;
    npm::ci(&wrapper, "@sipp/sipp-server")?;
    progress::run_to_stderr_with(
        &wrapper,
        "checking src/schema-types.ts against schema/sipp.schema.json",
        "",
        std::process::Command::new("node").args(["scripts/types.mjs", "--check"]),
    )?;
    package(sh, "cpu")
}

pub fn package(sh: &Shell, backend: &str) -> Result<Packed> {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64") && cfg!(target_env = "gnu")) {
        bail!("the Node package is built for {TRIPLE} here; this host is another platform");
    }
    npm::check_node(sh)?;
    let root = sh.current_dir();
    crate::build::cargo_build(&root, "sipp-node", backend, crate::build::RELEASE, "building the Node native module")?;
    let wrapper = wrapper_dir(sh);
    let platform = wrapper.join("npm").join(TRIPLE);
    let module = platform.join(format!("sipp-server.{backend}.node"));
    let built = root.join("target").join("release").join("libsipp_node.so");
    std::fs::copy(&built, &module).with_context(|| format!("copying {}", built.display()))?;
    // Debug info is most of the file; users get symbols for backtraces, not DWARF.
    progress::run_to_stderr(&root, "stripping the native module", "", "strip", &["--strip-debug", &path(&module)])?;

    npm::ci(&wrapper, "@sipp/sipp-server")?;
    progress::run_to_stderr_with(
        &wrapper,
        "building @sipp/sipp-server (schema types + tsc)",
        "",
        &mut npm::npm(&["run", "build"]),
    )?;
    let out = root.join(".build").join("artifacts").join("node");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let staged = stage_wrapper(&wrapper, &root.join(".build").join("node-stage").join("sipp-server"))?;
    let packed = Packed { wrapper: pack(&staged, &out)?, platform: pack(&platform, &out)? };
    eprintln!("build: packed {} and {}", packed.wrapper.display(), packed.platform.display());
    Ok(packed)
}

/// The wrapper as it is published: `dist/`, README and a package.json whose
/// `optionalDependencies` name each platform package of `sippPlatforms` at this version
/// (napi-rs's `prepublish` step). They are not in the source package.json: they are on no
/// registry here, so the development lockfile could not hold them.
fn stage_wrapper(wrapper: &Path, stage: &Path) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(stage);
    std::fs::create_dir_all(stage)?;
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wrapper.join("package.json"))?)?;
    let version = manifest["version"].as_str().context("package.json has no version")?.to_string();
    let platforms = manifest
        .as_object_mut()
        .and_then(|m| m.remove("sippPlatforms"))
        .and_then(|p| p.as_array().cloned())
        .context("package.json has no sippPlatforms")?;
    let optional: serde_json::Map<String, serde_json::Value> = platforms
        .iter()
        .filter_map(|p| p.as_str())
        .map(|p| (format!("@sipp/sipp-server-{p}"), serde_json::Value::String(version.clone())))
        .collect();
    manifest["optionalDependencies"] = optional.into();
    std::fs::write(stage.join("package.json"), serde_json::to_string_pretty(&manifest)? + "\n")?;
    std::fs::copy(wrapper.join("README.md"), stage.join("README.md"))?;
    crate::build::copy_dir(&wrapper.join("dist"), &stage.join("dist"))?;
    Ok(stage.to_path_buf())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `npm pack` `dir` into `out`; returns the tarball.
fn pack(dir: &Path, out: &Path) -> Result<PathBuf> {
    let output = npm::npm(&["pack", "--silent", "--pack-destination", &path(out)])
        .current_dir(dir)
        .output()
        .with_context(|| format!("npm pack in {}", dir.display()))?;
    if !output.status.success() {
        bail!("npm pack in {} failed: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
    }
    let name = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_string();
    let tarball = out.join(&name);
    if name.is_empty() || !tarball.is_file() {
        bail!("npm pack in {} wrote no tarball ({name:?})", dir.display());
    }
    Ok(tarball)
}

/// An empty project outside the packages with both tarballs installed (plus TypeScript
/// for the examples' type check), as `npm install @sipp/sipp-server` leaves a user's.
pub fn install_into_fresh_project(sh: &Shell, packed: &Packed, dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("package.json"),
        "{\"name\": \"sipp-node-e2e\", \"private\": true, \"type\": \"module\"}\n",
    )?;
    // The same TypeScript and Node types the package is built with (its lockfile).
    let lock = std::fs::read_to_string(wrapper_dir(sh).join("package-lock.json"))?;
    let lock: serde_json::Value = serde_json::from_str(&lock)?;
    let pinned = |name: &str| {
        lock["packages"][format!("node_modules/{name}")]["version"].as_str().map(|v| format!("{name}@{v}"))
    };
    let mut args = vec!["install".to_string(), "--no-audit".into(), "--save-exact".into()];
    args.extend([path(&packed.wrapper), path(&packed.platform)]);
    args.extend(["typescript", "@types/node"].iter().filter_map(|n| pinned(n)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    progress::run_to_stderr_with(
        dir,
        "installing the packed @sipp/sipp-server into a fresh project",
        "",
        &mut npm::npm(&args),
    )
}

/// The Node tests (`tests/node`, node's own runner) in a fresh project holding the
/// packed package, after `tsc` has type-checked and compiled every example.
pub fn test(sh: &Shell, packed: &Packed, env: &[(&str, &Path)]) -> Result<()> {
    let root = sh.current_dir();
    // Outside the checkout, so nothing of the repository's can be resolved by accident.
    let e2e = std::env::temp_dir().join("sipp-node-e2e");
    install_into_fresh_project(sh, packed, &e2e)?;
    copy_files(&root.join("examples").join("node"), &e2e.join("examples"))?;
    copy_files(&root.join("tests").join("node"), &e2e.join("test"))?;
    let tsc = path(&e2e.join("node_modules").join("typescript").join("bin").join("tsc"));
    progress::run_to_stderr_with(
        &e2e,
        "type-checking and compiling examples/node (tsc)",
        "",
        std::process::Command::new("node").args([tsc.as_str(), "-p", "examples/tsconfig.json"]),
    )?;
    let mut files: Vec<String> = std::fs::read_dir(e2e.join("test"))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("test/{n}"))
        .collect();
    files.sort();
    let mut node = std::process::Command::new("node");
    // One file at a time: each loads models and starts servers of its own.
    node.args(["--test", "--test-concurrency=1", "--test-reporter=spec"]).args(&files);
    for (k, v) in env {
        node.env(k, v);
    }
    progress::run_to_stderr_with(&e2e, "running the Node tests (node --test)", "", &mut node)
}

/// The files (not folders) of `from` into `to`.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// The Next.js guide's app (`examples/node/nextjs`): its packages from the lockfile, the
/// packed @sipp/sipp-server added without touching package.json (it is not on a registry
/// here), then `next build`. Returns the app's directory, ready for `next start`.
pub fn nextjs(sh: &Shell, packed: &Packed) -> Result<PathBuf> {
    let dir = sh.current_dir().join("examples").join("node").join("nextjs");
    npm::ci(&dir, "the Next.js example")?;
    let (wrapper, platform) = (path(&packed.wrapper), path(&packed.platform));
    progress::run_to_stderr_with(
        &dir,
        "adding the packed @sipp/sipp-server to the Next.js example",
        "",
        &mut npm::npm(&["install", "--no-save", "--no-audit", &wrapper, &platform]),
    )?;
    let next = path(&dir.join("node_modules").join("next").join("dist").join("bin").join("next"));
    progress::run_to_stderr_with(
        &dir,
        "building the Next.js example (next build)",
        "",
        std::process::Command::new("node").args([next.as_str(), "build"]).env("NEXT_TELEMETRY_DISABLED", "1"),
    )?;
    Ok(dir)
}
