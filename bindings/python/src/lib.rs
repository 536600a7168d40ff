//! Native module `sipp._sipp`: conversion between Python and the Rust client, nothing
//! more. The public Python API lives in `python/sipp`.

mod awaitable;
mod client;
mod errors;
mod run;
mod wait;

use pyo3::prelude::*;

/// Backends compiled into this build, `cpu` first.
#[pyfunction]
fn compiled_backends() -> Vec<String> {
    sipp::engine::compiled_backends().iter().map(ToString::to_string).collect()
}

#[pymodule]
fn _sipp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::NativeClient>()?;
    m.add_class::<run::NativeTextRun>()?;
    m.add_class::<run::NativeEmbeddingRun>()?;
    m.add_function(wrap_pyfunction!(compiled_backends, m)?)?;
    m.add_function(wrap_pyfunction!(awaitable::quiesce, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
