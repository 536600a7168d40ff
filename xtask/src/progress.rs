//! Long first-time work, shown on stderr so stdout carries only the answer: a child
//! process whose output goes to stderr, with a line every minute while it runs (cargo
//! prints nothing for minutes while llama.cpp compiles when stderr is not a terminal).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Run `program args` in `dir` with its stdout and stderr on our stderr; `what` and
/// `estimate` say what is being done and roughly how long it takes.
pub fn run_to_stderr(dir: &Path, what: &str, estimate: &str, program: &str, args: &[&str]) -> Result<()> {
    run_to_stderr_with(dir, what, estimate, Command::new(program).args(args))
}

pub fn run_to_stderr_with(dir: &Path, what: &str, estimate: &str, cmd: &mut Command) -> Result<()> {
    if !estimate.is_empty() {
        eprintln!("setup: {what} ({estimate})");
    }
    let started = Instant::now();
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .stderr(std::io::stderr())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let (done, ticks) = mpsc::channel::<()>();
    let label = what.to_string();
    let ticker = std::thread::spawn(move || {
        while ticks.recv_timeout(Duration::from_secs(60)) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("setup: still {label} ({} min so far)", started.elapsed().as_secs() / 60);
        }
    });
    let status = child.wait();
    let _ = done.send(());
    let _ = ticker.join();
    let status = status.with_context(|| format!("waiting for {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    if started.elapsed() > Duration::from_secs(30) {
        eprintln!("setup: {what}: done in {:.1} min", started.elapsed().as_secs_f64() / 60.0);
    }
    Ok(())
}
