//! `sipp-gateway check` as an operator runs it: exit status and what it prints.

use std::process::Command;

fn check(config: &std::path::Path) -> (bool, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_sipp-gateway")).args(["check", "--config"]).arg(config).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_every_template_without_reading_secrets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut templates: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".toml.example"))
        .collect();
    templates.sort();
    let names: Vec<_> = templates.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "development.toml.example",
            "local.toml.example",
            "production.toml.example",
            "provider-only.toml.example",
            "replicas.toml.example"
        ]
    );
    // No secret is set: check must not need one.
    let outs: Vec<String> = templates
        .iter()
        .map(|t| {
            let (ok, out, err) = check(t);
            assert!(ok, "{}: {err}", t.display());
            out
        })
        .collect();
    assert!(
        outs[3].contains(
            "ok — targets openai-chat (openai), compatible-chat (openai_compatible), anthropic-chat (anthropic)"
        ),
        "{}",
        outs[3]
    );
    assert!(outs[2].contains("2 tokens; public 0.0.0.0:8080, management 0.0.0.0:9090"), "{}", outs[2]);
    assert!(outs[4].contains("ok — targets local (local), openai-chat (openai)"), "{}", outs[4]);
}

#[test]
fn check_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    let template =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/local.toml.example"))
            .unwrap();
    std::fs::write(
        &path,
        template
            .replace("127.0.0.1:9090", "127.0.0.1:8080")
            .replace(r#"targets = ["local"]"#, r#"targets = ["gpu"]"#)
            .replace(r#"chat = "/v1/chat""#, r#"chat = "/v1/completions""#),
    )
    .unwrap();
    let (ok, _, err) = check(&path);
    assert!(!ok);
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains("routes.openai: `/v1/completions` is already used by another route"), "{err}");
    assert!(err.contains("management_bind: must differ from public_bind"), "{err}");
    assert!(err.contains("tokens[0].targets[0]: `gpu` is not a configured target"), "{err}");

    std::fs::write(&path, "public_bind = 8080\n").unwrap();
    let (ok, _, err) = check(&path);
    assert!(!ok && err.contains("invalid type"), "{err}");
    let (ok, _, err) = check(&dir.path().join("missing.toml"));
    assert!(!ok && err.contains("cannot read"), "{err}");
}
