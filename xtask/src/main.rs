//! Project tasks: `cargo xtask <task>`. Each task lives in its own file.
//!
//!     cargo xtask run "Explain Sipp."   set up, then chat with the default model
//!     cargo xtask run gateway-server serve --config F   stage the gateway, then run it
//!     cargo xtask test                  set up, then run every test
//!     cargo xtask test-node             only the Node package's tests (packed, installed fresh)
//!     cargo xtask doctor                report missing system pieces and their fix
//!     cargo xtask models                fetch the default and test models into .build/models
//!     cargo xtask llama-server          build llama.cpp's server for the real-server tests
//!     cargo xtask build gateway-server  stage sipp-gateway + its Admin Dashboard in .build/artifacts
//!     cargo xtask build node            pack @sipp/sipp-server + its linux-x64-gnu package in .build/artifacts
//!     cargo xtask build web             build, test and pack the browser package @sipp/sipp in .build/artifacts
//!     cargo xtask bench [ARGS]          engine, Python, Node, browser and gateway benchmarks (--browser-only, …)
//!     cargo xtask determinism [--avx2]  the determinism matrix (also on an AVX2-only build)
//!     cargo xtask fuzz --minutes N      fuzz the gateway's public routes for N minutes
//!     cargo xtask soak --minutes N      mixed gateway traffic for N minutes, RSS every 30 s
//!     cargo xtask develop               build the wheel and install it into .build/venv
//!     cargo xtask wheel                 distributable wheel (x86-64-v3) into dist/
//!     cargo xtask schema                rewrite schema/*.schema.json from the Rust types
//!     cargo xtask lint                  cargo fmt --check and clippy -D warnings, as CI runs them

mod admin_ui;
mod bench;
mod build;
mod determinism;
mod doctor;
mod libclang;
mod llama_server;
mod node;
mod npm;
mod progress;
mod python;
mod reliability;
mod setup;
mod test;
mod web;

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_else(|| "help".into());
    let rest: Vec<String> = args.collect();
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    match task.as_str() {
        "run" if rest.first().is_some_and(|a| a == "gateway-server") => {
            setup::ensure(&sh)?;
            build::run_gateway_server(&sh, &rest[1..])
        }
        "run" => {
            setup::ensure(&sh)?;
            // The default model is an instruct model: it answers a message rendered with
            // its chat template, and rambles on a raw completion prompt.
            let root = sh.current_dir();
            let sipp = root.join("target/release/sipp");
            let estimate =
                if sipp.exists() { "" } else { "the first build compiles llama.cpp: about 10 minutes on 2 cores" };
            progress::run_to_stderr(
                &root,
                "building the sipp CLI",
                estimate,
                "cargo",
                &["build", "--release", "-p", "sipp-cli"],
            )?;
            eprintln!("run: the default model answers your prompt as a chat message (sipp --chat)");
            cmd!(sh, "{sipp} --chat {rest...}").run()?;
            Ok(())
        }
        "test" => {
            setup::ensure_with(&sh, doctor::TEST_TOOLS)?;
            test::run(&sh, &rest)
        }
        "test-node" => {
            setup::ensure_with(&sh, doctor::TEST_TOOLS)?;
            test::node_only(&sh)
        }
        "doctor" => doctor::report(&sh),
        "build" => {
            if rest.first().is_some_and(|w| w == "web") {
                setup::ensure_with(&sh, doctor::WEB_TOOLS)?;
            } else {
                setup::ensure(&sh)?;
            }
            build::run(&sh, &rest)
        }
        "setup" => setup::ensure(&sh),
        "models" => {
            setup::ensure(&sh)?;
            println!("{}", sipp_models::default_model()?.display());
            let venv = python::venv(&sh)?;
            println!("{}", python::test_models(&sh, &venv)?.display());
            Ok(())
        }
        "llama-server" => {
            setup::ensure(&sh)?;
            let venv = python::venv(&sh)?;
            println!("{}", llama_server::ensure(&sh, &venv)?.display());
            Ok(())
        }
        "bench" => {
            setup::ensure_with(&sh, doctor::BENCH_TOOLS)?;
            bench::run(&sh, &rest)
        }
        "fuzz" | "soak" => {
            setup::ensure(&sh)?;
            let suite = if task == "fuzz" { reliability::Suite::Fuzz } else { reliability::Suite::Soak };
            reliability::run(&sh, suite, &rest)
        }
        "determinism" => {
            setup::ensure(&sh)?;
            determinism::run(&sh, &rest)
        }
        "develop" => {
            setup::ensure(&sh)?;
            let venv = python::venv(&sh)?;
            let wheel = python::develop(&sh, &venv)?;
            println!("installed {} into {}", wheel.display(), venv.dir.display());
            Ok(())
        }
        "wheel" => {
            setup::ensure(&sh)?;
            let venv = python::venv(&sh)?;
            python::wheel(&sh, &venv)
        }
        "schema" => {
            setup::ensure(&sh)?;
            cmd!(sh, "cargo test --release -p sipp-rs --test schema").env("SIPP_WRITE_SCHEMA", "1").run()?;
            cmd!(sh, "cargo test --release -p sipp-gateway-server --test admin_schema")
                .env("SIPP_WRITE_SCHEMA", "1")
                .run()?;
            println!("schema/sipp.schema.json\nschema/gateway-admin.schema.json");
            Ok(())
        }
        "lint" => test::lint(&sh),
        "help" | "--help" | "-h" => {
            let usage: Vec<&str> =
                include_str!("main.rs").lines().skip(2).take(17).map(|l| l.trim_start_matches("//!")).collect();
            println!("{}", usage.join("\n"));
            Ok(())
        }
        other => bail!("unknown task `{other}`; try `cargo xtask help`"),
    }
}

fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}
