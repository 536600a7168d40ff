//! Set-up shared by `run`, `test` and `bench`: system packages (installed with apt-get
//! when running as root, else reported with their fix) and the default model.

use crate::{doctor, progress};
use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

pub fn ensure(sh: &Shell) -> Result<()> {
    ensure_with(sh, &[])
}

/// `ensure`, plus the programs a task needs beyond the build.
pub fn ensure_with(sh: &Shell, tools: &[doctor::Tool]) -> Result<()> {
    let mut missing = doctor::missing(sh);
    missing.extend(doctor::missing_tools(sh, tools));
    if !missing.is_empty() {
        let packages: Vec<&str> = missing.iter().map(|m| m.apt_package).collect();
        let root = cmd!(sh, "id -u").quiet().read().is_ok_and(|uid| uid.trim() == "0");
        let apt = cmd!(sh, "sh -c 'command -v apt-get'").quiet().ignore_stdout().run().is_ok();
        if !(root && apt) {
            for m in &missing {
                eprintln!("missing: {} -> fix: sudo apt-get install -y {}", m.what, m.apt_package);
            }
            bail!("install the packages above (or run as root, which installs them), then rerun");
        }
        // apt and dpkg print progress on stdout, which belongs to the answer.
        let dir = sh.current_dir();
        let what = format!("installing {} with apt-get", packages.join(" "));
        let apt = |args: &[&str]| {
            let mut c = std::process::Command::new("apt-get");
            c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        progress::run_to_stderr_with(&dir, &what, "about a minute", &mut apt(&["update", "-qq"]))?;
        let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
        install.args(&packages);
        progress::run_to_stderr_with(&dir, &what, "", &mut install)?;
        // Check again the way the build will look, so a package that installs but does
        // not provide the piece fails here, with the doctor's report, not in bindgen.
        if !doctor::missing(sh).is_empty() {
            doctor::report(sh)?;
        }
        if let Some(m) = doctor::missing_tools(sh, tools).first() {
            bail!("{} is still missing after installing {}", m.what, m.apt_package);
        }
    }
    let model = sipp_models::default_model().context("fetching the default model")?;
    eprintln!("setup: default model at {}", model.display());
    Ok(())
}
