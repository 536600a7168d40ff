//! Provider endpoints (`kind: provider`): OpenAI and OpenAI-compatible servers, and
//! Anthropic's Messages API, called directly with the descriptor's credentials.

mod anthropic;
mod openai;

use crate::error::{Result, SippError};
use crate::transport::{header_name, Auth, HttpTransport, RemoteEndpoint};
use crate::types::endpoint::Endpoint;
use crate::types::{ProviderDescriptor, ProviderKind, Secret};
use reqwest::header::{HeaderName, AUTHORIZATION};
use std::sync::Arc;

pub(crate) use anthropic::AnthropicWire;
pub(crate) use openai::OpenAiWire;

/// Build the endpoint `descriptor` describes (checked here, before any request).
pub(crate) fn endpoint(id: &str, d: &ProviderDescriptor) -> Result<Arc<dyn Endpoint>> {
    if d.model.trim().is_empty() {
        return Err(SippError::InvalidConfig("provider endpoints need a model".into()));
    }
    let key = d.api_key.clone().filter(|k| !k.is_empty()).or_else(|| env_key(d.provider));
    let base = match (d.provider, d.base_url.as_deref()) {
        (_, Some(url)) => url.to_string(),
        (ProviderKind::Openai, None) => "https://api.openai.com/v1".into(),
        (ProviderKind::Anthropic, None) => "https://api.anthropic.com/v1".into(),
        (ProviderKind::OpenaiCompatible, None) => {
            return Err(SippError::InvalidConfig("provider openai_compatible needs base_url".into()));
        }
    };
    let auth = match (d.provider, key) {
        (ProviderKind::Anthropic, Some(value)) => {
            Auth::Static { name: HeaderName::from_static("x-api-key"), value, bearer: false }
        }
        (_, Some(value)) => Auth::Static { name: AUTHORIZATION, value, bearer: true },
        (ProviderKind::OpenaiCompatible, None) => Auth::None,
        (p, None) => {
            return Err(SippError::InvalidConfig(format!(
                "provider {} needs api_key (or {} in the environment)",
                p.as_str(),
                key_env(p)
            )));
        }
    };
    let mut http = HttpTransport::new(id, &base, &d.static_headers, auth, d.timeouts, d.retry)?;
    if let Some(name) = &d.correlation_header {
        http = http.with_correlation_header(header_name(name)?);
    }
    Ok(match d.provider {
        ProviderKind::Anthropic => {
            let http = http.with_default_header("anthropic-version", anthropic::API_VERSION);
            Arc::new(RemoteEndpoint::new(AnthropicWire::new(&d.model), http)?)
        }
        p => Arc::new(RemoteEndpoint::new(OpenAiWire::new(&d.model, p == ProviderKind::OpenaiCompatible), http)?),
    })
}

fn key_env(provider: ProviderKind) -> &'static str {
    match provider {
        ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => "OPENAI_API_KEY",
    }
}

/// The official SDKs read these when no key is given; a compatible server does not.
fn env_key(provider: ProviderKind) -> Option<Secret> {
    if provider == ProviderKind::OpenaiCompatible {
        return None;
    }
    std::env::var(key_env(provider)).ok().filter(|k| !k.is_empty()).map(Secret::from)
}
