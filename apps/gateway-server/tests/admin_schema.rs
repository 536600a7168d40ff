//! `schema/gateway-admin.schema.json` is what the admin API's Rust types derive
//! (`admin::answers`); the dashboard's build generates its TypeScript types from it
//! (`admin-ui/scripts/types.mjs`). A change to an answer shows up here first; `cargo
//! xtask schema` rewrites the file.

use std::path::Path;

#[test]
fn the_admin_schema_is_the_one_checked_in() {
    let schema = sipp_gateway_server::admin::answers::admin_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/gateway-admin.schema.json");
    if std::env::var_os("SIPP_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(on_disk == text, "{} is out of date: run `cargo xtask schema`", path.display());
    let defs = schema["$defs"].as_object().unwrap();
    for answer in ["SessionAnswer", "Overview", "MetricsAnswer", "RequestsAnswer", "BlocklistAnswer", "LimitsChange"] {
        assert!(defs.contains_key(answer), "{answer} missing");
    }
    // What the dashboard shows of a token is its caller label, nothing that could hold one.
    let caller = defs["CallerView"]["properties"].as_object().unwrap();
    assert_eq!(caller.keys().collect::<Vec<_>>(), ["all_targets", "blocked", "caller", "targets"]);
}
