//! A Python callable as a gateway's per-request credential provider. It runs on a
//! blocking thread that takes the GIL only for the call; the facade has already turned
//! async callables into sync ones. During interpreter shutdown it fails instead of
//! touching Python.

use pyo3::prelude::*;
use sipp::{Secret, ValueProvider};
use std::sync::Arc;

pub(crate) fn from_callable(f: Py<PyAny>) -> ValueProvider {
    let f = Arc::new(f);
    ValueProvider::new(move || {
        let f = Arc::clone(&f);
        async move {
            let called = tokio::task::spawn_blocking(move || {
                Python::try_attach(|py| call(py, &f)).unwrap_or_else(|| Err("the interpreter is shutting down".into()))
            });
            called.await.map_err(|e| format!("the value provider did not finish: {e}"))?
        }
    })
}

fn call(py: Python<'_>, f: &Py<PyAny>) -> Result<Secret, String> {
    let value = f.call0(py).map_err(|e| e.to_string())?;
    let value = value.extract::<String>(py).map_err(|_| "the value provider must return a str".to_string())?;
    Ok(Secret::from(value))
}
