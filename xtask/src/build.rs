//! `cargo xtask build gateway-server [--backend cpu|cuda|vulkan|metal]` (the spec's `sipp
//! build gateway-server`): the runnable gateway distribution its "Generated Executable"
//! describes, staged in `.build/artifacts/gateway-server`: the `sipp-gateway` executable
//! (the `dist` profile) with the Admin Dashboard's Vite build in `admin-ui/` beside it
//! (where the binary looks for it). llama.cpp is linked statically; the system's libgomp
//! and libstdc++ are the only runtime libraries it needs. `cargo xtask run gateway-server
//! check|serve …` (the spec's `sipp run gateway-server`) stages it and runs it.

use crate::{admin_ui, progress};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::Shell;

pub fn run(sh: &Shell, what: &[String]) -> Result<()> {
    match what.split_first() {
        Some((target, rest)) if target == "gateway-server" => {
            let (backend, extra) = backend(rest)?;
            if let Some(arg) = extra.first() {
                bail!(
                    "unexpected argument `{arg}`: `cargo xtask build gateway-server [--backend cpu|cuda|vulkan|metal]`"
                );
            }
            let staged = gateway_server(sh, Some(backend), DIST)?;
            println!("{}", staged.display());
            Ok(())
        }
        Some((target, rest)) if target == "node" => {
            let (backend, extra) = backend(rest)?;
            if let Some(arg) = extra.first() {
                bail!("unexpected argument `{arg}`: `cargo xtask build node [--backend cpu|cuda|vulkan|metal]`");
            }
            let packed = crate::node::package(sh, backend)?;
            println!("{}\n{}", packed.wrapper.display(), packed.platform.display());
            Ok(())
        }
        Some((target, rest)) if target == "web" => {
            if let Some(arg) = rest.first() {
                bail!("unexpected argument `{arg}`: `cargo xtask build web`");
            }
            println!("{}", crate::web::package(sh)?.display());
            Ok(())
        }
        other => {
            bail!("build what? `cargo xtask build gateway-server`, `node` or `web` (got {:?})", other.map(|o| o.0))
        }
    }
}

/// `cargo xtask run gateway-server [--backend B] check|serve …`: stage, then run the staged
/// binary with the rest of the arguments (its stdout is the command's).
pub fn run_gateway_server(sh: &Shell, args: &[String]) -> Result<()> {
    let (backend, rest) = backend(args)?;
    let binary = gateway_server(sh, Some(backend), DIST)?.join("sipp-gateway");
    let status = std::process::Command::new(&binary).args(&rest).status().context("starting sipp-gateway")?;
    if !status.success() {
        bail!("sipp-gateway {} ended with {status}", rest.join(" "));
    }
    Ok(())
}

/// `--backend X` taken out of `args`: the cargo feature of the llama.cpp backend (none
/// for `cpu`/`auto`).
fn backend(args: &[String]) -> Result<(&'static str, Vec<String>)> {
    let mut rest = Vec::new();
    let mut backend = "cpu";
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = match a.as_str() {
            "--backend" => it.next().map(String::as_str),
            other => match other.strip_prefix("--backend=") {
                Some(v) => Some(v),
                None => {
                    rest.push(a.clone());
                    continue;
                }
            },
        };
        backend = match value {
            Some("cpu" | "auto") => "cpu",
            Some("cuda") => "cuda",
            Some("vulkan") => "vulkan",
            Some("metal") => "metal",
            other => bail!("--backend takes cpu, cuda, vulkan or metal (got {other:?})"),
        };
    }
    Ok((backend, rest))
}

/// The cargo profile of what users run and the benches measure (Cargo.toml: fat LTO,
/// one codegen unit).
pub const DIST: &str = "dist";
/// The tests' profile: incremental, built in a fraction of `DIST`'s time.
pub const RELEASE: &str = "release";

/// `cargo build --profile profile -p package` with `backend`'s feature (none for cpu).
pub fn cargo_build(root: &Path, package: &str, backend: &str, profile: &str, what: &str) -> Result<()> {
    let mut args = vec!["build", "--profile", profile, "-p", package];
    if backend != "cpu" {
        args.extend(["--features", backend]);
    }
    let first = if profile == DIST {
        "the first build compiles llama.cpp and optimises the whole program: about 15 minutes on 2 cores"
    } else {
        "the first build compiles llama.cpp: about 10 minutes on 2 cores"
    };
    progress::run_to_stderr(root, what, first, "cargo", &args)
}

/// Stage the gateway built with `profile` (building it first, with `backend`'s feature,
/// when given; without, the binary must be there); returns the directory.
pub fn gateway_server(sh: &Shell, backend: Option<&str>, profile: &str) -> Result<PathBuf> {
    let root = sh.current_dir();
    if let Some(backend) = backend {
        cargo_build(&root, "sipp-gateway-server", backend, profile, "building sipp-gateway")?;
    }
    let dist = admin_ui::build(sh)?;
    let out = root.join(".build").join("artifacts").join("gateway-server");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let binary = root.join("target").join(profile).join("sipp-gateway");
    std::fs::copy(&binary, out.join("sipp-gateway")).with_context(|| format!("copying {}", binary.display()))?;
    copy_dir(&dist, &out.join("admin-ui"))?;
    eprintln!("build: staged sipp-gateway and admin-ui/ in {}", out.display());
    Ok(out)
}

pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
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
