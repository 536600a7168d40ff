//! Descriptors of the two remote kinds: a Sipp gateway, and a provider API called
//! directly. What they share (static headers, timeouts, the retry budget) is here too.

use super::secret::Secret;
use crate::providers::ProviderKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A request to a Sipp gateway (`kind: gateway`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayDescriptor {
    /// Public target name; sent as `model`.
    pub target: String,
    /// Absolute http(s) URL of the gateway; routes are appended to it.
    pub base_url: String,
    #[serde(default)]
    pub authentication: GatewayAuthentication,
    #[serde(default)]
    pub static_headers: Vec<StaticHeader>,
    #[serde(default)]
    pub timeouts: TimeoutPolicy,
    #[serde(default)]
    pub routes: GatewayRoutes,
    /// Merged into every request body (may not set the typed fields).
    #[serde(default)]
    pub protocol_options: Map<String, Value>,
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl GatewayDescriptor {
    pub fn new(target: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            base_url: base_url.into(),
            authentication: GatewayAuthentication::default(),
            static_headers: Vec::new(),
            timeouts: TimeoutPolicy::default(),
            routes: GatewayRoutes::default(),
            protocol_options: Map::new(),
            retry: RetryPolicy::default(),
        }
    }

    #[must_use]
    pub fn with_authentication(mut self, authentication: GatewayAuthentication) -> Self {
        self.authentication = authentication;
        self
    }
}

/// How a gateway request authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticationKind {
    #[default]
    None,
    /// `Authorization: Bearer <value>`.
    Bearer,
    /// `<header_name>: <value>`.
    Header,
}

/// The credential of a gateway endpoint: a static value, or a provider asked on every
/// request (short-lived tokens).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayAuthentication {
    pub kind: AuthenticationKind,
    #[serde(default)]
    pub value: Option<Secret>,
    /// Header name for `kind = header`.
    #[serde(default)]
    pub header_name: Option<String>,
    /// Called per request instead of `value` (set from code, not from documents).
    #[serde(skip)]
    pub value_provider: Option<ValueProvider>,
}

impl GatewayAuthentication {
    #[must_use]
    pub fn bearer(value: impl Into<Secret>) -> Self {
        Self { kind: AuthenticationKind::Bearer, value: Some(value.into()), ..Self::default() }
    }

    #[must_use]
    pub fn header(name: impl Into<String>, value: impl Into<Secret>) -> Self {
        Self {
            kind: AuthenticationKind::Header,
            value: Some(value.into()),
            header_name: Some(name.into()),
            value_provider: None,
        }
    }

    /// `kind` with its value fetched from `provider` before every request.
    #[must_use]
    pub fn provided(kind: AuthenticationKind, header_name: Option<String>, provider: ValueProvider) -> Self {
        Self { kind, value: None, header_name, value_provider: Some(provider) }
    }
}

/// What a value provider returns: the credential, or why it could not get one.
pub type ProvidedValue = Pin<Box<dyn Future<Output = Result<Secret, String>> + Send>>;

/// An async closure that yields a fresh credential per request.
#[derive(Clone)]
pub struct ValueProvider(Arc<dyn Fn() -> ProvidedValue + Send + Sync>);

impl ValueProvider {
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Secret, String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(f())))
    }

    pub(crate) fn call(&self) -> ProvidedValue {
        (self.0)()
    }
}

impl fmt::Debug for ValueProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValueProvider(..)")
    }
}

/// Two providers are the same only if they are the same closure.
impl PartialEq for ValueProvider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A header sent on every request. Its value may be a credential, so it never prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaticHeader {
    pub name: String,
    pub value: Secret,
}

impl StaticHeader {
    pub fn new(name: impl Into<String>, value: impl Into<Secret>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// Gateway routes, appended to `base_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayRoutes {
    pub query: String,
    pub chat: String,
    pub embed: String,
}

impl Default for GatewayRoutes {
    fn default() -> Self {
        Self { query: "/v1/query".into(), chat: "/v1/chat".into(), embed: "/v1/embed".into() }
    }
}

/// Deadlines of one remote request, in milliseconds (unset: the defaults below).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutPolicy {
    /// Establishing the TCP (and TLS) connection. Default 10 s.
    pub connect_ms: Option<u64>,
    /// The whole request, first byte sent to last byte read. Default 10 min.
    pub request_ms: Option<u64>,
    /// Longest silence between two stream events (and before the first). Default 60 s.
    pub idle_ms: Option<u64>,
}

impl TimeoutPolicy {
    #[must_use]
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms.unwrap_or(10_000))
    }

    #[must_use]
    pub fn request(&self) -> Duration {
        Duration::from_millis(self.request_ms.unwrap_or(600_000))
    }

    #[must_use]
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms.unwrap_or(60_000))
    }
}

/// Retries of requests that provably did not run: connection refused, `503` before any
/// byte of a body, `429` with `Retry-After`. A generation that started is never retried.
/// Off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Extra attempts after the first.
    pub max_retries: u32,
    /// Wait before a retry that the server did not time (doubles per attempt). Default 200 ms.
    pub backoff_ms: Option<u64>,
}

/// A provider API called directly (`kind: provider`), for trusted server-side code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderDescriptor {
    pub provider: ProviderKind,
    /// The provider's model identifier.
    pub model: String,
    /// Unset: `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` from the environment.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Unset: `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` from the environment (as the
    /// providers' SDKs read them), else the provider's own API.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub static_headers: Vec<StaticHeader>,
    #[serde(default)]
    pub timeouts: TimeoutPolicy,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Header that carries each request's `request_id` to the provider (e.g.
    /// `x-request-id`), so upstream logs can be joined with the caller's; unset: none.
    #[serde(default)]
    pub correlation_header: Option<String>,
}

impl ProviderDescriptor {
    pub fn new(provider: ProviderKind, model: impl Into<String>) -> Self {
        Self {
            provider,
            model: model.into(),
            api_key: None,
            base_url: None,
            static_headers: Vec::new(),
            timeouts: TimeoutPolicy::default(),
            retry: RetryPolicy::default(),
            correlation_header: None,
        }
    }

    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }
}
