//! `schema/sipp.schema.json` is the boundary schema the serde types derive: a change to a
//! type that crosses a language boundary shows up here first, and the other languages'
//! parity tests read the checked-in file. `cargo xtask schema` rewrites it.

use std::path::Path;

#[test]
fn the_checked_in_schema_is_the_one_the_types_derive() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/sipp.schema.json");
    let derived = serde_json::to_string_pretty(&sipp::boundary_schema()).unwrap() + "\n";
    if std::env::var_os("SIPP_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &derived).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == derived,
        "{} is stale: run `cargo xtask schema` and commit the result (then fix the parity tests it breaks)",
        path.display()
    );
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
