//! Native side of `sipp.SippClient`. Descriptors and options arrive as JSON produced by
//! the Python facade from its dataclasses, and are decoded with the core crate's serde
//! types, so Python and Rust share one schema.

use crate::errors::{bad_json, IntoPyResult};
use crate::run::{NativeEmbeddingRun, NativeTextRun};
use crate::wait::block_on;
use pyo3::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use sipp::engine::NativeRuntimeConfig;
use sipp::{
    Backend, ChatMessage, EndpointDescriptor, EndpointKind, EndpointRef, GatewayDescriptor, LocalEmbedOptions,
    LocalModelDescriptor, LocalTextOptions, ProviderDescriptor, SippChatRequest, SippClient, SippEmbedRequest,
    SippError, SippQueryRequest, SippTextOptions,
};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TextParts {
    options: SippTextOptions,
    local: LocalTextOptions,
    endpoint_options: Map<String, Value>,
    provider_options: Map<String, Value>,
    request_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EmbedParts {
    local: LocalEmbedOptions,
    endpoint_options: Map<String, Value>,
    provider_options: Map<String, Value>,
    request_id: Option<String>,
}

fn endpoint(id: Option<String>) -> Option<EndpointRef> {
    id.map(|id| EndpointRef { kind: EndpointKind::Local, id })
}

fn text_parts(json: &str) -> PyResult<TextParts> {
    serde_json::from_str(json).map_err(|e| bad_json("request options", &e))
}

#[derive(Debug)]
#[pyclass(frozen, module = "sipp._sipp")]
pub struct NativeClient {
    client: Arc<SippClient>,
}

impl NativeClient {
    fn add(&self, py: Python<'_>, id: String, descriptor: EndpointDescriptor) -> PyResult<(String, String)> {
        let client = Arc::clone(&self.client);
        let added = block_on(py, async move { client.add(id, descriptor).await }, || {})?.py()?;
        Ok((added.kind.as_str().to_string(), added.id))
    }
}

#[pymethods]
impl NativeClient {
    #[new]
    fn new() -> Self {
        Self { client: Arc::new(SippClient::new()) }
    }

    /// Load a local GGUF endpoint; returns (kind, id).
    fn add_local(
        &self,
        py: Python<'_>,
        id: String,
        model_path: PathBuf,
        config_json: &str,
        backend: &str,
    ) -> PyResult<(String, String)> {
        let config: NativeRuntimeConfig = serde_json::from_str(config_json)
            .map_err(|e| crate::errors::to_py(&SippError::InvalidConfig(e.to_string())))?;
        let backend: Backend = backend.parse().py()?;
        self.add(py, id, LocalModelDescriptor { model_path, config, backend }.into())
    }

    /// Register a gateway endpoint from its descriptor document; `value_provider` is a
    /// callable returning the credential (the facade makes async providers sync).
    #[pyo3(signature = (id, descriptor_json, value_provider=None))]
    fn add_gateway(
        &self,
        py: Python<'_>,
        id: String,
        descriptor_json: &str,
        value_provider: Option<Py<PyAny>>,
    ) -> PyResult<(String, String)> {
        let mut d: GatewayDescriptor = serde_json::from_str(descriptor_json)
            .map_err(|e| crate::errors::to_py(&SippError::InvalidConfig(format!("gateway descriptor: {e}"))))?;
        d.authentication.value_provider = value_provider.map(crate::value_provider::from_callable);
        self.add(py, id, d.into())
    }

    /// Register a provider endpoint from its descriptor document.
    fn add_provider(&self, py: Python<'_>, id: String, descriptor_json: &str) -> PyResult<(String, String)> {
        let d: ProviderDescriptor = serde_json::from_str(descriptor_json)
            .map_err(|e| crate::errors::to_py(&SippError::InvalidConfig(format!("provider descriptor: {e}"))))?;
        self.add(py, id, d.into())
    }

    fn query(
        &self,
        py: Python<'_>,
        endpoint_id: Option<String>,
        prompt: String,
        request_json: &str,
        emit_tokens: bool,
    ) -> PyResult<NativeTextRun> {
        let parts = text_parts(request_json)?;
        let request = SippQueryRequest {
            endpoint: endpoint(endpoint_id),
            prompt,
            options: parts.options,
            local: parts.local,
            endpoint_options: parts.endpoint_options,
            provider_options: parts.provider_options,
            request_id: parts.request_id,
            emit_tokens,
        };
        // Tokenization runs here; long prompts should not hold the GIL.
        Ok(NativeTextRun::new(py.detach(|| self.client.query(request))))
    }

    fn chat(
        &self,
        py: Python<'_>,
        endpoint_id: Option<String>,
        messages: Vec<(String, String)>,
        request_json: &str,
        emit_tokens: bool,
    ) -> PyResult<NativeTextRun> {
        let parts = text_parts(request_json)?;
        let messages = messages
            .into_iter()
            .map(|(role, content)| Ok(ChatMessage::new(role.parse()?, content)))
            .collect::<Result<Vec<_>, SippError>>()
            .py()?;
        let request = SippChatRequest {
            endpoint: endpoint(endpoint_id),
            messages,
            options: parts.options,
            local: parts.local,
            endpoint_options: parts.endpoint_options,
            provider_options: parts.provider_options,
            request_id: parts.request_id,
            emit_tokens,
        };
        Ok(NativeTextRun::new(py.detach(|| self.client.chat(request))))
    }

    fn embed(
        &self,
        py: Python<'_>,
        endpoint_id: Option<String>,
        input: String,
        request_json: &str,
    ) -> PyResult<NativeEmbeddingRun> {
        let parts: EmbedParts = serde_json::from_str(request_json).map_err(|e| bad_json("embed options", &e))?;
        let request = SippEmbedRequest {
            endpoint: endpoint(endpoint_id),
            input,
            local: parts.local,
            endpoint_options: parts.endpoint_options,
            provider_options: parts.provider_options,
            request_id: parts.request_id,
        };
        Ok(NativeEmbeddingRun::new(py.detach(|| self.client.embed(request))))
    }

    /// Registered endpoints as (kind, id) pairs.
    fn endpoints(&self) -> Vec<(String, String)> {
        self.client.endpoints().into_iter().map(|e| (e.kind.as_str().to_string(), e.id)).collect()
    }

    fn remove(&self, py: Python<'_>, endpoint_id: String) -> bool {
        let r = EndpointRef { kind: EndpointKind::Local, id: endpoint_id };
        py.detach(|| self.client.remove(&r))
    }

    /// Engine counters of a local endpoint, as JSON.
    fn endpoint_stats(&self, endpoint_id: String) -> PyResult<String> {
        let stats = self.client.endpoint_stats(&EndpointRef { kind: EndpointKind::Local, id: endpoint_id }).py()?;
        serde_json::to_string(&stats).map_err(|e| bad_json("stats", &e))
    }

    /// What a local endpoint loaded, as JSON.
    fn endpoint_info(&self, endpoint_id: String) -> PyResult<String> {
        let info = self.client.endpoint_info(&EndpointRef { kind: EndpointKind::Local, id: endpoint_id }).py()?;
        serde_json::to_string(&info).map_err(|e| bad_json("info", &e))
    }

    /// Unload every endpoint (joins their engine threads without the GIL).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.client.close());
    }
}
