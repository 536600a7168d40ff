//! The one mapping from `SippError` to Python exceptions. The classes live in
//! `sipp._errors` (Python, so they can also subclass built-ins such as `ValueError`), with
//! the table that picks one per `sipp::ErrorCode` (a test checks it covers every code).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sipp::SippError;

/// Convert a core error into its Python exception (message and `.code` kept; remote
/// errors also carry `.status`, `.upstream_code` and `.retry_after`).
pub(crate) fn to_py(error: &SippError) -> PyErr {
    Python::attach(|py| {
        let made =
            py.import("sipp._errors").and_then(|m| m.call_method1("class_for", (error.code(),))).and_then(|cls| {
                let kwargs = PyDict::new(py);
                if let SippError::Remote { status, upstream_code, retry_after_secs, .. } = error {
                    kwargs.set_item("status", status)?;
                    kwargs.set_item("upstream_code", upstream_code)?;
                    kwargs.set_item("retry_after", retry_after_secs.map(|s| s as f64))?;
                }
                cls.call((error.to_string(), error.code()), Some(&kwargs))
            });
        match made {
            Ok(instance) => PyErr::from_value(instance),
            // Only reachable if the package is broken; still never a panic.
            Err(e) => PyRuntimeError::new_err(format!("{error} (and sipp._errors failed: {e})")),
        }
    })
}

/// Convenience for `Result<T, SippError>`.
pub(crate) trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, SippError> {
    fn py(self) -> PyResult<T> {
        self.map_err(|e| to_py(&e))
    }
}

/// Bad JSON from the facade is a caller error in the options it was built from.
pub(crate) fn bad_json(what: &str, e: &serde_json::Error) -> PyErr {
    to_py(&SippError::InvalidRequest(format!("{what}: {e}")))
}
