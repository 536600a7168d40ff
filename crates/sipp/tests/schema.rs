//! `schema/sipp.schema.json` is the boundary schema the serde types derive: a change to a
//! type that crosses a language boundary shows up here first, and the other languages'
//! parity tests read the checked-in file. Python's literal types are generated from it
//! (`python/sipp/_literals.py`). `cargo xtask schema` rewrites both.

use serde_json::Value;
use std::path::Path;

/// Python alias ← schema definition, for every Rust enum Python names as a `Literal`.
const PYTHON_LITERALS: &[(&str, &str)] = &[
    ("AuthenticationKind", "AuthenticationKind"),
    ("EndpointKind", "EndpointKind"),
    ("ErrorCodeName", "ErrorCode"),
    ("FinishReason", "FinishReason"),
    ("FlashAttention", "FlashAttention"),
    ("KvReuseMode", "KvReuseMode"),
    ("PoolingType", "PoolingType"),
    ("ProviderName", "ProviderKind"),
    ("Role", "ChatRole"),
    ("SamplerStage", "SamplerStage"),
    ("SchedulerPolicy", "SchedulerPolicy"),
    ("SplitMode", "SplitMode"),
    ("WeightFormat", "WeightFormat"),
];

/// The values of a unit-variant enum: plain `enum`s, or `oneOf` entries (documented
/// variants are `const`).
fn values(def: &Value) -> Vec<String> {
    let one = |v: &Value| -> Vec<String> {
        v.get("const").map(|c| vec![c.as_str().unwrap_or_default().to_string()]).unwrap_or_else(|| {
            v["enum"].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect()
        })
    };
    match def.get("oneOf").and_then(Value::as_array) {
        Some(variants) => variants.iter().flat_map(one).collect(),
        None => one(def),
    }
}

fn python_literals(schema: &Value) -> String {
    let mut out = String::from(
        "\"\"\"Literal types of the Rust enums Python names, generated from schema/sipp.schema.json by\n\
         `cargo xtask schema` (crates/sipp/tests/schema.rs). Do not edit.\"\"\"\n\n\
         from typing import Literal\n\n",
    );
    for (alias, def) in PYTHON_LITERALS {
        let quoted: Vec<String> = values(&schema["$defs"][def]).iter().map(|v| format!("\"{v}\"")).collect();
        assert!(!quoted.is_empty(), "{def} has no values in the schema");
        let one_line = format!("{alias} = Literal[{}]\n", quoted.join(", "));
        if one_line.len() <= 120 {
            out.push_str(&one_line);
        } else {
            out.push_str(&format!("{alias} = Literal[\n"));
            for q in &quoted {
                out.push_str(&format!("    {q},\n"));
            }
            out.push_str("]\n");
        }
    }
    out
}

/// `derived` must be what `path` holds; with `SIPP_WRITE_SCHEMA` set it is written first.
fn current(path: &Path, derived: &str) {
    if std::env::var_os("SIPP_WRITE_SCHEMA").is_some() {
        std::fs::write(path, derived).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == derived,
        "{} is stale: run `cargo xtask schema` and commit the result (then fix the parity tests it breaks)",
        path.display()
    );
}

#[test]
fn the_checked_in_schema_is_the_one_the_types_derive() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = sipp::boundary_schema();
    current(&root.join("schema/sipp.schema.json"), &(serde_json::to_string_pretty(&schema).unwrap() + "\n"));
    current(&root.join("python/sipp/_literals.py"), &python_literals(&schema));
}

#[test]
fn the_schema_names_every_shared_option_and_error_code() {
    let schema = sipp::boundary_schema();
    let options = &schema["$defs"]["SippTextOptions"]["properties"];
    for name in sipp::field_names::<sipp::SippTextOptions>() {
        assert!(options.get(name).is_some(), "SippTextOptions.{name} missing from the schema");
    }
    let codes: Vec<String> = serde_json::from_value(schema["$defs"]["ErrorCode"]["enum"].clone()).unwrap();
    assert_eq!(codes, sipp::ErrorCode::all().map(|c| c.as_str().to_string()).collect::<Vec<_>>());
}
