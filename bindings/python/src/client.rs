//! Native side of `sipp.SippClient`. Descriptors and requests arrive as JSON documents of
//! the core crate's serde types (the facade writes them from its dataclasses, which a test
//! checks against `schema/sipp.schema.json`), or as native requests a gateway helper
//! decoded; nothing here restates their fields.

use crate::errors::{bad_json, IntoPyResult};
use crate::request;
use crate::run::{NativeEmbeddingRun, NativeTextRun};
use crate::wait::block_on;
use pyo3::prelude::*;
use sipp::{EndpointDescriptor, SippClient, SippError};
use std::sync::Arc;

#[derive(Debug)]
#[pyclass(frozen, module = "sipp._sipp")]
pub struct NativeClient {
    client: Arc<SippClient>,
}

#[pymethods]
impl NativeClient {
    #[new]
    fn new() -> Self {
        Self { client: Arc::new(SippClient::new()) }
    }

    /// Register the endpoint a descriptor document describes (`kind` local, gateway or
    /// provider); `value_provider` is a callable returning a gateway credential (the facade
    /// makes async providers sync). Returns (kind, id).
    #[pyo3(signature = (id, descriptor_json, value_provider=None))]
    fn add(
        &self,
        py: Python<'_>,
        id: String,
        descriptor_json: &str,
        value_provider: Option<Py<PyAny>>,
    ) -> PyResult<(String, String)> {
        let mut descriptor: EndpointDescriptor = serde_json::from_str(descriptor_json)
            .map_err(|e| crate::errors::to_py(&SippError::InvalidConfig(format!("endpoint descriptor: {e}"))))?;
        if let (EndpointDescriptor::Gateway(d), Some(p)) = (&mut descriptor, value_provider) {
            d.authentication.value_provider = Some(crate::value_provider::from_callable(p));
        }
        let client = Arc::clone(&self.client);
        let added = block_on(py, async move { client.add(id, descriptor).await }, || {})?.py()?;
        Ok((added.kind.as_str().to_string(), added.id))
    }

    /// Start a query or chat; `endpoint` (kind, id) replaces the request's own.
    #[pyo3(signature = (request, endpoint=None))]
    fn text(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        endpoint: Option<(String, String)>,
    ) -> PyResult<NativeTextRun> {
        let mut request = request::text(request)?;
        if let Some(e) = endpoint {
            request.endpoint = Some(request::endpoint_ref(e)?);
        }
        // Tokenization runs here; long prompts should not hold the GIL.
        Ok(NativeTextRun::new(py.detach(|| self.client.text(&request))))
    }

    #[pyo3(signature = (request, endpoint=None))]
    fn embed(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        endpoint: Option<(String, String)>,
    ) -> PyResult<NativeEmbeddingRun> {
        let mut request = request::embed(request)?;
        if let Some(e) = endpoint {
            request.endpoint = Some(request::endpoint_ref(e)?);
        }
        Ok(NativeEmbeddingRun::new(py.detach(|| self.client.embed(request))))
    }

    /// Registered endpoints as (kind, id) pairs.
    fn endpoints(&self) -> Vec<(String, String)> {
        self.client.endpoints().into_iter().map(|e| (e.kind.as_str().to_string(), e.id)).collect()
    }

    fn remove(&self, py: Python<'_>, endpoint: (String, String)) -> PyResult<bool> {
        let r = request::endpoint_ref(endpoint)?;
        Ok(py.detach(|| self.client.remove(&r)))
    }

    /// Engine counters of a local endpoint, as JSON.
    fn endpoint_stats(&self, endpoint: (String, String)) -> PyResult<String> {
        let stats = self.client.endpoint_stats(&request::endpoint_ref(endpoint)?).py()?;
        serde_json::to_string(&stats).map_err(|e| bad_json("stats", &e))
    }

    /// What a local endpoint loaded, as JSON.
    fn endpoint_info(&self, endpoint: (String, String)) -> PyResult<String> {
        let info = self.client.endpoint_info(&request::endpoint_ref(endpoint)?).py()?;
        serde_json::to_string(&info).map_err(|e| bad_json("info", &e))
    }

    /// Unload every endpoint (joins their engine threads without the GIL).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.client.close());
    }
}
