//! Native side of `SippClient`. Descriptors and requests arrive as the JavaScript objects
//! the caller wrote; `shape` converts them by the one schema into the core's serde types,
//! so nothing here restates their fields.

use crate::errors::{invalid_config, invalid_request, IntoJsResult};
use crate::run::{NativeEmbeddingRun, NativeTextRun};
use crate::shape::{inbound, parse};
use crate::value_provider::{from_function, ValueFn};
use napi_derive::napi;
use serde_json::Value;
use sipp::{EndpointDescriptor, EndpointKind, EndpointRef, SippClient, SippEmbedRequest, SippTextRequest};
use std::sync::{Arc, Mutex, Weak};

/// `kind` and `id` of a registered endpoint.
#[derive(Debug, Clone)]
#[napi(object)]
pub struct NativeEndpointRef {
    pub kind: String,
    pub id: String,
}

impl From<EndpointRef> for NativeEndpointRef {
    fn from(r: EndpointRef) -> Self {
        Self { kind: r.kind.as_str().to_string(), id: r.id }
    }
}

fn endpoint_ref(r: &NativeEndpointRef) -> napi::Result<EndpointRef> {
    let kind: EndpointKind = serde_json::from_value(Value::String(r.kind.clone()))
        .map_err(|_| invalid_request(format!("endpoint.kind `{}` is not local, gateway or provider", r.kind)))?;
    Ok(EndpointRef { kind, id: r.id.clone() })
}

/// Every client alive in this process, so the environment's cleanup hook can unload
/// them (joining engine threads) before Node tears the process down.
fn live() -> &'static Mutex<Vec<Weak<SippClient>>> {
    static LIVE: Mutex<Vec<Weak<SippClient>>> = Mutex::new(Vec::new());
    &LIVE
}

pub(crate) fn close_all() {
    let clients: Vec<_> = live().lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..).collect();
    for client in clients.iter().filter_map(Weak::upgrade) {
        client.close();
    }
}

/// A descriptor document (`kind` plus that kind's fields) as the core's type.
pub(crate) fn descriptor(mut js: Value) -> napi::Result<EndpointDescriptor> {
    let kind = js.as_object_mut().and_then(|o| o.remove("kind"));
    let def = match kind.as_ref().and_then(Value::as_str) {
        Some("local") => "LocalModelDescriptor",
        Some("gateway") => "GatewayDescriptor",
        Some("provider") => "ProviderDescriptor",
        _ => {
            let got = kind.as_ref().map_or_else(|| "nothing".to_string(), ToString::to_string);
            return Err(invalid_config(format!(
                "descriptor.kind must be 'local', 'gateway' or 'provider' (got {got})"
            )));
        }
    };
    let document = inbound(js, def, "descriptor").map_err(invalid_config)?;
    let parsed = match def {
        "LocalModelDescriptor" => parse::<sipp::LocalModelDescriptor>(document, def, "descriptor").map(Into::into),
        "GatewayDescriptor" => parse::<sipp::GatewayDescriptor>(document, def, "descriptor").map(Into::into),
        _ => parse::<sipp::ProviderDescriptor>(document, def, "descriptor").map(Into::into),
    };
    parsed.map_err(invalid_config)
}

pub(crate) fn text_request(js: Value) -> napi::Result<SippTextRequest> {
    let document = inbound(js, "SippTextRequest", "request").map_err(invalid_request)?;
    let request: SippTextRequest = parse(document, "SippTextRequest", "request").map_err(invalid_request)?;
    request.options.validate().js()?;
    Ok(request)
}

pub(crate) fn embed_request(js: Value) -> napi::Result<SippEmbedRequest> {
    let document = inbound(js, "SippEmbedRequest", "request").map_err(invalid_request)?;
    parse(document, "SippEmbedRequest", "request").map_err(invalid_request)
}

#[derive(Debug)]
#[napi]
pub struct NativeClient {
    client: Arc<SippClient>,
}

#[napi]
impl NativeClient {
    #[napi(constructor)]
    pub fn new() -> Self {
        let client = Arc::new(SippClient::new());
        let mut live = live().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        live.retain(|c| c.strong_count() > 0);
        live.push(Arc::downgrade(&client));
        Self { client }
    }

    /// Register an endpoint; loading a local model runs off the event loop.
    /// `value_provider` is a gateway's per-request credential function.
    #[napi]
    pub async fn add(
        &self,
        id: String,
        descriptor: Value,
        value_provider: Option<ValueFn>,
    ) -> napi::Result<NativeEndpointRef> {
        let mut descriptor = self::descriptor(descriptor)?;
        if let (EndpointDescriptor::Gateway(d), Some(f)) = (&mut descriptor, value_provider) {
            d.authentication.value_provider = Some(from_function(f));
        }
        let client = Arc::clone(&self.client);
        Ok(client.add(id, descriptor).await.js()?.into())
    }

    /// Start a query or chat (`prompt` a string or a list of messages). A bad field
    /// throws here; everything else arrives through the run.
    #[napi]
    pub fn text(&self, request: Value) -> napi::Result<NativeTextRun> {
        Ok(NativeTextRun::start(&self.client, text_request(request)?))
    }

    #[napi]
    pub fn embed(&self, request: Value) -> napi::Result<NativeEmbeddingRun> {
        Ok(NativeEmbeddingRun::start(&self.client, embed_request(request)?))
    }

    #[napi]
    pub fn endpoints(&self) -> Vec<NativeEndpointRef> {
        self.client.endpoints().into_iter().map(NativeEndpointRef::from).collect()
    }

    /// Unload one endpoint (waits for its engine thread off the event loop).
    #[napi]
    pub async fn remove(&self, endpoint: NativeEndpointRef) -> napi::Result<bool> {
        let r = endpoint_ref(&endpoint)?;
        let client = Arc::clone(&self.client);
        napi::bindgen_prelude::spawn_blocking(move || client.remove(&r))
            .await
            .map_err(|e| napi::Error::from_reason(format!("remove did not finish: {e}")))
    }

    /// Engine counters of a local endpoint.
    #[napi]
    pub fn endpoint_stats(&self, endpoint: NativeEndpointRef) -> napi::Result<Value> {
        let stats = self.client.endpoint_stats(&endpoint_ref(&endpoint)?).js()?;
        Ok(crate::shape::camel_keys(serde_json::to_value(stats).unwrap_or_default()))
    }

    /// What a local endpoint loaded.
    #[napi]
    pub fn endpoint_info(&self, endpoint: NativeEndpointRef) -> napi::Result<Value> {
        let info = self.client.endpoint_info(&endpoint_ref(&endpoint)?).js()?;
        Ok(crate::shape::camel_keys(serde_json::to_value(info).unwrap_or_default()))
    }

    /// Unload every endpoint; engine threads are joined off the event loop.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        let client = Arc::clone(&self.client);
        napi::bindgen_prelude::spawn_blocking(move || client.close())
            .await
            .map_err(|e| napi::Error::from_reason(format!("close did not finish: {e}")))
    }
}

impl Default for NativeClient {
    fn default() -> Self {
        Self::new()
    }
}
