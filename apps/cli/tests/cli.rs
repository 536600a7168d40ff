//! Black-box tests of the `sipp` binary, as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sipp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipp")).args(args).env_remove("SIPP_LOG").output().expect("run sipp")
}

fn model() -> PathBuf {
    sipp_models::default_model().expect("default model")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn prompt_streams_text_to_stdout_and_nothing_else() {
    let m = model();
    let out = sipp(&[m.to_str().unwrap(), "The capital of France is", "--max-tokens", "8", "--temperature", "0"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Paris"), "stdout: {stdout:?}");
    assert!(!stdout.contains("llama"), "llama.cpp logs leaked to stdout: {stdout:?}");
}

#[test]
fn chat_flag_uses_the_model_template() {
    let m = model();
    let out = sipp(&[
        m.to_str().unwrap(),
        "Say hello.",
        "--chat",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
        "--stats",
        "basic",
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("decode=") && stderr.contains("ttft="), "stats missing: {stderr}");
    assert!(
        stderr.contains("[sipp] engine: decode_calls=") && stderr.contains("kv_cells="),
        "engine metrics: {stderr}"
    );
}

#[test]
fn default_model_is_used_without_a_model_argument() {
    let out = Command::new(env!("CARGO_BIN_EXE_sipp"))
        .args(["The capital of France is", "--max-tokens", "4", "--temperature", "0"])
        .env("SIPP_MODELS_DIR", model().parent().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());
}

#[test]
fn errors_are_one_clear_line_and_nonzero() {
    let out = sipp(&["/definitely/missing.gguf", "hi"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("model file not found: /definitely/missing.gguf"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let not_gguf = dir.path().join("x.gguf");
    std::fs::write(&not_gguf, "hello").unwrap();
    let out = sipp(&[not_gguf.to_str().unwrap(), "hi"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not a GGUF"), "{}", text(&out.stderr));
}

#[test]
fn unavailable_backend_is_reported() {
    let m = model();
    let out = sipp(&[m.to_str().unwrap(), "hi", "--backend", "vulkan"]);
    if cfg!(feature = "vulkan") {
        return;
    }
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("backend `vulkan` is not available") && stderr.contains("cpu"), "{stderr}");
}

#[test]
fn help_lists_the_flags() {
    let out = sipp(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in ["--chat", "--max-tokens", "--ctx-size", "--backend", "--temperature", "--stats", "--deterministic"] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let out = sipp(&["hi", "--stats", "loud"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sipp(&["hi", "--deterministic", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--deterministic on|off` is accepted and both settings answer (the switch changes
/// llama.cpp's kernels, not what the CLI prints); what `on` guarantees is tested by
/// crates/sipp/tests/determinism.rs.
#[test]
fn deterministic_switch_both_ways() {
    let m = model();
    for setting in ["on", "off"] {
        let args = [m.to_str().unwrap(), "The capital of France is", "--max-tokens", "6", "--temperature", "0"];
        let out = sipp(&[&args[..], &["--deterministic", setting, "--stats", "basic"]].concat());
        assert!(out.status.success(), "{setting}: {}", text(&out.stderr));
        assert!(!text(&out.stdout).trim().is_empty(), "{setting}");
        assert!(text(&out.stderr).contains("finish="), "{setting}: {}", text(&out.stderr));
    }
}

/// `--ctx-size 2048` is the window of the prompt: a ~1800-token one fits (it did not when
/// the context was divided among parallel sequences), a longer one names the flag's knob.
#[test]
fn ctx_size_is_the_window_of_the_prompt() {
    let m = model();
    let long = format!("Count the words:{}", " word".repeat(1800));
    let out = sipp(&[m.to_str().unwrap(), &long, "--ctx-size", "2048", "--max-tokens", "4", "--stats", "basic"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("output_tokens=4"), "{}", text(&out.stderr));
    let too_long = format!("Count the words:{}", " word".repeat(2100));
    let out = sipp(&[m.to_str().unwrap(), &too_long, "--ctx-size", "2048", "--max-tokens", "4"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("context.n_ctx = 2048"), "{}", text(&out.stderr));
}
