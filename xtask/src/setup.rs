//! Set-up shared by `run`, `test` and `bench`: system packages (installed with apt-get
//! when running as root, else reported with their fix) and the default model.

use crate::doctor;
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
        eprintln!("setup: installing {}", packages.join(" "));
        cmd!(sh, "apt-get update -qq").env("DEBIAN_FRONTEND", "noninteractive").run()?;
        cmd!(sh, "apt-get install -y -qq --no-install-recommends {packages...}")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()?;
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
