//! `SippClient`: registers endpoints and dispatches `query`, `chat` and `embed`.

use super::descriptor::{EndpointDescriptor, EndpointKind, EndpointRef};
use super::options::{LocalTextOptions, SippChatRequest, SippEmbedRequest, SippQueryRequest, SippTextOptions};
use super::run::{SippEmbeddingRun, SippTextRun};
use crate::engine::{
    check_temperature, check_top_p, validate_sampling, Engine, EngineStats, ModelInfo, PromptInput, TextParams,
};
use crate::error::{Result, SippError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A registered endpoint. Only local engines exist so far; gateway and provider
/// transports join this enum in their own issues.
#[derive(Debug)]
enum Endpoint {
    Local(Arc<Engine>),
}

/// The one client of every surface. Methods take `&self`; the client is `Send + Sync`
/// and can be shared across threads and tasks.
#[derive(Debug, Default)]
pub struct SippClient {
    endpoints: RwLock<BTreeMap<String, Endpoint>>,
}

#[derive(Clone, Copy)]
enum Operation {
    Text,
    Embed,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Text => "query/chat",
            Self::Embed => "embed",
        }
    }
}

impl SippClient {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `descriptor` under `id`. Reusing an id replaces the endpoint; the old
    /// engine shuts down once its in-flight requests have been told.
    pub async fn add(&self, id: impl Into<String>, descriptor: impl Into<EndpointDescriptor>) -> Result<EndpointRef> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(SippError::InvalidRequest("endpoint id must not be empty".into()));
        }
        let descriptor = descriptor.into();
        let kind = descriptor.kind();
        let endpoint = match descriptor {
            EndpointDescriptor::Local(local) => {
                let engine = Engine::start(&id, &local.model_path, &local.config, local.backend).await?;
                Endpoint::Local(Arc::new(engine))
            }
        };
        let old = self.write().insert(id.clone(), endpoint);
        // Dropped outside the lock: shutting an engine down joins its thread.
        drop(old);
        Ok(EndpointRef { kind, id })
    }

    /// Remove one endpoint; false if it was not registered.
    pub fn remove(&self, endpoint: &EndpointRef) -> bool {
        let old = self.write().remove(&endpoint.id);
        old.is_some()
    }

    /// Unload every endpoint.
    pub fn close(&self) {
        let old = std::mem::take(&mut *self.write());
        drop(old);
    }

    /// Registered endpoints, by id.
    #[must_use]
    pub fn endpoints(&self) -> Vec<EndpointRef> {
        self.read()
            .iter()
            .map(|(id, e)| match e {
                Endpoint::Local(_) => EndpointRef { kind: EndpointKind::Local, id: id.clone() },
            })
            .collect()
    }

    /// Engine counters of a local endpoint (decode calls, batch sharing, reuse).
    pub fn endpoint_stats(&self, endpoint: &EndpointRef) -> Result<EngineStats> {
        self.local(Some(endpoint), Operation::Text).map(|e| e.stats())
    }

    /// What a local endpoint loaded.
    pub fn endpoint_info(&self, endpoint: &EndpointRef) -> Result<ModelInfo> {
        let map = self.read();
        match map.get(&endpoint.id) {
            Some(Endpoint::Local(e)) => Ok(e.info().clone()),
            None => Err(SippError::UnknownEndpoint(endpoint.id.clone())),
        }
    }

    /// Generate from a raw prompt (no chat template).
    pub fn query(&self, request: SippQueryRequest) -> SippTextRun {
        self.text_run(
            request.endpoint.as_ref(),
            PromptInput::Raw(&request.prompt),
            &request.options,
            &request.local,
            [&request.endpoint_options, &request.provider_options],
            request.emit_tokens,
        )
        .unwrap_or_else(SippTextRun::failed)
    }

    /// Generate from role messages rendered with the model's own chat template.
    pub fn chat(&self, request: SippChatRequest) -> SippTextRun {
        self.text_run(
            request.endpoint.as_ref(),
            PromptInput::Chat(&request.messages),
            &request.options,
            &request.local,
            [&request.endpoint_options, &request.provider_options],
            request.emit_tokens,
        )
        .unwrap_or_else(SippTextRun::failed)
    }

    /// One embedding vector for `input`.
    pub fn embed(&self, request: SippEmbedRequest) -> SippEmbeddingRun {
        let run = || -> Result<SippEmbeddingRun> {
            reject_remote_options([&request.endpoint_options, &request.provider_options])?;
            let engine = self.local(request.endpoint.as_ref(), Operation::Embed)?;
            let (rx, cancel) = engine.submit_embed(&request.input, request.local.normalize.unwrap_or(false))?;
            Ok(SippEmbeddingRun::live(engine.id(), rx, cancel))
        };
        run().unwrap_or_else(SippEmbeddingRun::failed)
    }

    fn text_run(
        &self,
        endpoint: Option<&EndpointRef>,
        prompt: PromptInput<'_>,
        options: &SippTextOptions,
        local: &LocalTextOptions,
        remote: [&Map<String, Value>; 2],
        emit_tokens: bool,
    ) -> Result<SippTextRun> {
        reject_remote_options(remote)?;
        let engine = self.local(endpoint, Operation::Text)?;
        let params = text_params(options, local, emit_tokens)?;
        let tokens = engine.tokenize(prompt)?;
        let (rx, cancel) = engine.submit_text(tokens, params)?;
        Ok(SippTextRun::live(engine.id(), rx, cancel))
    }

    /// The local engine named by `endpoint`, or the only one that fits `op`.
    fn local(&self, endpoint: Option<&EndpointRef>, op: Operation) -> Result<Arc<Engine>> {
        let map = self.read();
        if let Some(r) = endpoint {
            return match map.get(&r.id) {
                Some(Endpoint::Local(e)) => Ok(Arc::clone(e)),
                None => Err(SippError::UnknownEndpoint(r.id.clone())),
            };
        }
        let fits: Vec<_> = map
            .values()
            .map(|Endpoint::Local(e)| e)
            .filter(|e| match op {
                Operation::Text => !e.info().embeddings,
                Operation::Embed => e.info().embeddings,
            })
            .collect();
        match fits.as_slice() {
            [only] => Ok(Arc::clone(only)),
            [] => Err(SippError::EndpointRequired {
                operation: op.name().into(),
                reason: "no registered local endpoint supports it".into(),
            }),
            many => Err(SippError::EndpointRequired {
                operation: op.name().into(),
                reason: format!("{} local endpoints support it", many.len()),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Endpoint>> {
        // A panic while holding the lock cannot leave the map half-written.
        self.endpoints.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Endpoint>> {
        self.endpoints.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn reject_remote_options(remote: [&Map<String, Value>; 2]) -> Result<()> {
    if remote.iter().any(|m| !m.is_empty()) {
        return Err(SippError::InvalidRequest(
            "endpoint_options and provider_options apply to gateway and provider endpoints, not local ones".into(),
        ));
    }
    Ok(())
}

fn text_params(options: &SippTextOptions, local: &LocalTextOptions, emit_tokens: bool) -> Result<TextParams> {
    check_temperature(options.temperature)?;
    check_top_p(options.top_p)?;
    if options.max_tokens == Some(0) {
        return Err(SippError::InvalidRequest("max_tokens must be at least 1".into()));
    }
    let mut sampling = local.sampling.clone().unwrap_or_default();
    validate_sampling(&sampling).map_err(|e| SippError::InvalidRequest(e.to_string()))?;
    // Shared options win over the local sampling bucket.
    sampling.temperature = options.temperature.or(sampling.temperature);
    sampling.top_p = options.top_p.or(sampling.top_p);
    sampling.seed = options.seed.or(sampling.seed);
    let grammar = match (&local.grammar, &local.json_schema) {
        (Some(_), Some(_)) => {
            return Err(SippError::InvalidRequest("set grammar or json_schema, not both".into()));
        }
        (Some(g), None) => Some(g.clone()),
        (None, Some(schema)) => Some(Engine::schema_grammar(&schema.to_string())?),
        (None, None) => None,
    };
    Ok(TextParams {
        max_tokens: options.max_tokens,
        stop: options.stop.clone(),
        sampling,
        grammar,
        context_key: local.context_key.clone(),
        emit_tokens,
    })
}
