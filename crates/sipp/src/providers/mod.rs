//! Provider endpoints (`kind: provider`): OpenAI and OpenAI-compatible servers, and
//! Anthropic's Messages API, called directly with the descriptor's credentials. Each
//! provider is one module behind the `Wire` trait plus, here, its `ProviderKind` variant
//! and one [`ProviderSpec`] record of its facts; everything here and in the gateway's
//! target config reads the record.

mod anthropic;
mod openai;

use crate::error::{Result, SippError};
use crate::transport::{header_name, Auth, HttpTransport};
use crate::types::endpoint::Endpoint;
use crate::types::{ProviderDescriptor, Secret};
use reqwest::header::HeaderName;
use std::sync::Arc;

/// The one list of providers. `ProviderKind` is generated from it here, and the gateway's
/// `[[targets]]` types there (`sipp::with_providers!(your_macro)` calls `your_macro!` with
/// the list): a new provider is its module, its line here and its record in `PROVIDERS`.
#[macro_export]
macro_rules! with_providers {
    ($then:ident) => {
        $then! {
            /// api.openai.com (or `base_url`).
            Openai = "openai",
            /// Any server with OpenAI's routes; `base_url` required, key optional.
            OpenaiCompatible = "openai_compatible",
            /// api.anthropic.com Messages API (or `base_url`).
            Anthropic = "anthropic",
        }
    };
}

macro_rules! provider_kind {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Which provider API a provider endpoint speaks.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum ProviderKind {
            $($(#[$doc])* $variant,)*
        }

        impl ProviderKind {
            /// Every provider.
            pub const ALL: &'static [ProviderKind] = &[$(Self::$variant,)*];

            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

with_providers!(provider_kind);

/// What Sipp knows about one provider's API.
#[derive(Debug)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    /// Where requests go when the descriptor names no `base_url`; `None`: it must.
    pub default_base_url: Option<&'static str>,
    /// The variable the provider's own SDKs read the key from when none is given; `None`:
    /// a key is optional and never read from the environment (a compatible server).
    pub key_env: Option<&'static str>,
    /// The variable the provider's own SDKs read a base URL from when none is given, and
    /// what to append to its value (Anthropic's SDK leaves out the `/v1` ours includes).
    pub base_url_env: Option<(&'static str, &'static str)>,
    /// The header the key travels in (`authorization` carries `Bearer <key>`).
    pub auth_header: &'static str,
    /// Headers every request carries unless the descriptor sets them (API versions).
    pub default_headers: &'static [(&'static str, &'static str)],
    /// Whether the API has embeddings.
    pub embeddings: bool,
    /// The gateway TOML field naming the env variable with the key.
    pub gateway_key_field: &'static str,
    build: fn(&ProviderDescriptor, HttpTransport) -> Result<Arc<dyn Endpoint>>,
}

/// Every provider, one record each.
const PROVIDERS: &[&ProviderSpec] = &[&openai::OPENAI, &openai::COMPATIBLE, &anthropic::ANTHROPIC];

/// The record of `kind`.
#[must_use]
pub fn provider_spec(kind: ProviderKind) -> &'static ProviderSpec {
    PROVIDERS.iter().find(|s| s.kind == kind).copied().unwrap_or(&openai::COMPATIBLE)
}

/// Build the endpoint `descriptor` describes (checked here, before any request).
pub(crate) fn endpoint(id: &str, d: &ProviderDescriptor) -> Result<Arc<dyn Endpoint>> {
    let spec = provider_spec(d.provider);
    if d.model.trim().is_empty() {
        return Err(SippError::InvalidConfig("provider endpoints need a model".into()));
    }
    let from_env = env_base_url(spec);
    let base = match (d.base_url.as_deref().or(from_env.as_deref()), spec.default_base_url) {
        (Some(url), _) | (None, Some(url)) => url.to_string(),
        (None, None) => {
            return Err(SippError::InvalidConfig(format!("provider {} needs base_url", d.provider.as_str())));
        }
    };
    let key = d.api_key.clone().filter(|k| !k.is_empty()).or_else(|| env_key(spec));
    let auth = match (key, spec.key_env) {
        (Some(value), _) => {
            let name = HeaderName::from_static(spec.auth_header);
            let bearer = name == reqwest::header::AUTHORIZATION;
            Auth::Static { name, value, bearer }
        }
        (None, None) => Auth::None,
        (None, Some(var)) => {
            return Err(SippError::InvalidConfig(format!(
                "provider {} needs api_key (or {var} in the environment)",
                d.provider.as_str()
            )));
        }
    };
    let mut http = HttpTransport::new(id, &base, &d.static_headers, auth, d.timeouts, d.retry)?;
    for (name, value) in spec.default_headers {
        http = http.with_default_header(name, value);
    }
    if let Some(name) = &d.correlation_header {
        http = http.with_correlation_header(header_name(name)?);
    }
    (spec.build)(d, http)
}

/// As the official SDKs do: `OPENAI_BASE_URL` (with its `/v1`), `ANTHROPIC_BASE_URL`
/// (without), when the descriptor names no `base_url`.
fn env_base_url(spec: &ProviderSpec) -> Option<String> {
    let (var, suffix) = spec.base_url_env?;
    let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty())?;
    Some(format!("{}{suffix}", value.trim().trim_end_matches('/')))
}

/// The official SDKs read these when no key is given; a compatible server does not.
fn env_key(spec: &ProviderSpec) -> Option<Secret> {
    std::env::var(spec.key_env?).ok().filter(|k| !k.is_empty()).map(Secret::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_record() {
        for &kind in ProviderKind::ALL {
            assert_eq!(PROVIDERS.iter().filter(|s| s.kind == kind).count(), 1, "{kind:?}");
            assert_eq!(provider_spec(kind).kind, kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
