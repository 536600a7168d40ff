//! `SippClient`: a registry of endpoints of any kind, and the rules every kind shares
//! (which option buckets a kind accepts, choosing the endpoint when a request names
//! none, id reuse, close). What a request means is up to the endpoint.

use super::run::{SippEmbeddingRun, SippTextRun};
use crate::engine::Engine;
use crate::error::{Result, SippError};
use crate::types::endpoint::{Endpoint, Operation};
use crate::types::{
    EndpointDescriptor, EndpointKind, EndpointRef, EngineStats, ModelInfo, SippChatRequest, SippEmbedRequest,
    SippQueryRequest, SippTextRequest, TextPrompt,
};
use crate::{gateway_client, providers};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The one client of every surface. Methods take `&self`; the client is `Send + Sync`
/// and can be shared across threads and tasks.
#[derive(Debug, Default)]
pub struct SippClient {
    endpoints: RwLock<BTreeMap<String, Arc<dyn Endpoint>>>,
}

/// The option buckets that only some kinds accept, as one request carries them.
struct KindOptions<'a> {
    endpoint_options: &'a Map<String, Value>,
    provider_options: &'a Map<String, Value>,
    /// Local-only fields this request set.
    local_fields: Vec<&'static str>,
}

impl<'a> KindOptions<'a> {
    fn of_text(r: &'a SippTextRequest) -> Self {
        let (endpoint_options, provider_options) = (&r.endpoint_options, &r.provider_options);
        Self { endpoint_options, provider_options, local_fields: r.local.fields_set() }
    }

    fn of_embed(r: &'a SippEmbedRequest) -> Self {
        let (endpoint_options, provider_options) = (&r.endpoint_options, &r.provider_options);
        Self { endpoint_options, provider_options, local_fields: r.local.fields_set() }
    }
}

impl SippClient {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `descriptor` under `id`. Reusing an id replaces the endpoint; the old
    /// one shuts down once its in-flight requests have been told. Remote endpoints run
    /// their requests on the tokio runtime this is awaited on.
    pub async fn add(&self, id: impl Into<String>, descriptor: impl Into<EndpointDescriptor>) -> Result<EndpointRef> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(SippError::InvalidRequest("endpoint id must not be empty".into()));
        }
        let endpoint: Arc<dyn Endpoint> = match descriptor.into() {
            EndpointDescriptor::Local(local) => {
                Arc::new(Engine::start(&id, &local.model_path, &local.config, local.backend).await?)
            }
            EndpointDescriptor::Gateway(gateway) => gateway_client::endpoint(&id, &gateway)?,
            EndpointDescriptor::Provider(provider) => providers::endpoint(&id, &provider)?,
        };
        let kind = endpoint.kind();
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
        self.read().iter().map(|(id, e)| EndpointRef { kind: e.kind(), id: id.clone() }).collect()
    }

    /// Engine counters of a local endpoint (decode calls, batch sharing, reuse).
    pub fn endpoint_stats(&self, endpoint: &EndpointRef) -> Result<EngineStats> {
        let (_, e) = self.named(endpoint)?;
        e.stats().ok_or_else(|| local_only(endpoint, e.kind(), "endpoint_stats"))
    }

    /// What a local endpoint loaded.
    pub fn endpoint_info(&self, endpoint: &EndpointRef) -> Result<ModelInfo> {
        let (_, e) = self.named(endpoint)?;
        e.model_info().ok_or_else(|| local_only(endpoint, e.kind(), "endpoint_info"))
    }

    /// The token count of `prompt` on `endpoint` (chat template applied), when that
    /// endpoint can tell before running it: local endpoints can, remote ones (`None`)
    /// cannot.
    pub fn prompt_tokens(&self, endpoint: &EndpointRef, prompt: &TextPrompt) -> Result<Option<usize>> {
        let (_, e) = self.named(endpoint)?;
        e.prompt_tokens(prompt).transpose()
    }

    /// Generate from a raw prompt (no chat template).
    pub fn query(&self, request: SippQueryRequest) -> SippTextRun {
        self.text(&request.into())
    }

    /// Generate from role messages rendered with the model's own chat template.
    pub fn chat(&self, request: SippChatRequest) -> SippTextRun {
        self.text(&request.into())
    }

    /// `query` or `chat`, whichever the request's prompt is.
    pub fn text(&self, request: &SippTextRequest) -> SippTextRun {
        let run = || -> Result<SippTextRun> {
            let (id, endpoint) = self.choose(request.endpoint.as_ref(), Operation::Text)?;
            check_kind_options(endpoint.kind(), &KindOptions::of_text(request))?;
            let started = endpoint.text(request)?;
            Ok(SippTextRun::live(&id, started.events, started.cancel, started.credits))
        };
        run().unwrap_or_else(SippTextRun::failed)
    }

    /// One embedding vector for `input`.
    pub fn embed(&self, request: SippEmbedRequest) -> SippEmbeddingRun {
        let run = || -> Result<SippEmbeddingRun> {
            let (id, endpoint) = self.choose(request.endpoint.as_ref(), Operation::Embed)?;
            check_kind_options(endpoint.kind(), &KindOptions::of_embed(&request))?;
            let started = endpoint.embed(&request)?;
            Ok(SippEmbeddingRun::live(&id, started.reply, started.cancel))
        };
        run().unwrap_or_else(SippEmbeddingRun::failed)
    }

    fn named(&self, endpoint: &EndpointRef) -> Result<(String, Arc<dyn Endpoint>)> {
        self.read()
            .get(&endpoint.id)
            .map(|e| (endpoint.id.clone(), Arc::clone(e)))
            .ok_or_else(|| SippError::UnknownEndpoint(endpoint.id.clone()))
    }

    /// The endpoint named by `endpoint`, or else the only local one that serves `op` (the
    /// spec: a request may omit its endpoint only then; remote calls always name theirs).
    fn choose(&self, endpoint: Option<&EndpointRef>, op: Operation) -> Result<(String, Arc<dyn Endpoint>)> {
        if let Some(r) = endpoint {
            return self.named(r);
        }
        let map = self.read();
        let fits: Vec<_> = map.iter().filter(|(_, e)| e.kind() == EndpointKind::Local && e.supports(op)).collect();
        match fits.as_slice() {
            [(id, only)] => Ok(((*id).clone(), Arc::clone(only))),
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<dyn Endpoint>>> {
        // A panic while holding the lock cannot leave the map half-written.
        self.endpoints.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<dyn Endpoint>>> {
        self.endpoints.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Which option buckets each kind accepts: `endpoint_options` go to gateways,
/// `provider_options` to providers, neither to local endpoints; local-only options
/// (context keys, grammars, sampling, normalize) only to local endpoints.
fn check_kind_options(kind: EndpointKind, options: &KindOptions<'_>) -> Result<()> {
    if kind != EndpointKind::Local && !options.local_fields.is_empty() {
        return Err(SippError::InvalidRequest(format!(
            "{} {} local-only and cannot be sent to a {kind} endpoint; remove {}",
            options.local_fields.join(", "),
            if options.local_fields.len() == 1 { "is" } else { "are" },
            if options.local_fields.len() == 1 { "it" } else { "them" },
        )));
    }
    if kind == EndpointKind::Gateway && !options.provider_options.is_empty() {
        return Err(SippError::InvalidRequest(
            "provider_options are for provider endpoints; a gateway takes endpoint_options (its own \
             implementation decides what they mean)"
                .into(),
        ));
    }
    if kind == EndpointKind::Provider && !options.endpoint_options.is_empty() {
        return Err(SippError::InvalidRequest(
            "endpoint_options are for gateway endpoints; a provider takes provider_options".into(),
        ));
    }
    if kind == EndpointKind::Local && (!options.endpoint_options.is_empty() || !options.provider_options.is_empty()) {
        return Err(SippError::InvalidRequest(
            "endpoint_options apply to gateway endpoints and provider_options to provider endpoints; \
             local endpoints take neither"
                .into(),
        ));
    }
    Ok(())
}

fn local_only(endpoint: &EndpointRef, kind: EndpointKind, what: &str) -> SippError {
    SippError::UnsupportedOperation {
        endpoint: endpoint.id.clone(),
        operation: what.into(),
        reason: format!("{what} describes local engines; this is a {kind} endpoint"),
    }
}
