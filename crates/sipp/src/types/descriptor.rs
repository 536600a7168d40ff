//! Endpoint descriptors (what `add` registers) and the refs it hands back.

use super::backend::Backend;
use super::config::NativeRuntimeConfig;
use super::remote::{GatewayDescriptor, ProviderDescriptor};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Endpoint kind selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    Local,
    Gateway,
    Provider,
}

impl EndpointKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Gateway => "gateway",
            Self::Provider => "provider",
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lightweight handle returned by `add`: pass it to `query`, `chat` or `embed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct EndpointRef {
    pub kind: EndpointKind,
    pub id: String,
}

/// A GGUF model run in this process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocalModelDescriptor {
    pub model_path: PathBuf,
    #[serde(default)]
    pub config: NativeRuntimeConfig,
    /// Compute backend; `auto` picks the best one compiled in and present.
    #[serde(default)]
    pub backend: Backend,
}

impl LocalModelDescriptor {
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }
}

/// What `add` registers: where requests to the endpoint run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndpointDescriptor {
    Local(LocalModelDescriptor),
    Gateway(GatewayDescriptor),
    Provider(ProviderDescriptor),
}

impl EndpointDescriptor {
    /// A local GGUF endpoint.
    pub fn local(model_path: impl Into<PathBuf>, config: NativeRuntimeConfig) -> Self {
        Self::Local(LocalModelDescriptor { model_path: model_path.into(), config, backend: Backend::Auto })
    }

    #[must_use]
    pub fn kind(&self) -> EndpointKind {
        match self {
            Self::Local(_) => EndpointKind::Local,
            Self::Gateway(_) => EndpointKind::Gateway,
            Self::Provider(_) => EndpointKind::Provider,
        }
    }
}

impl From<LocalModelDescriptor> for EndpointDescriptor {
    fn from(d: LocalModelDescriptor) -> Self {
        Self::Local(d)
    }
}

impl From<GatewayDescriptor> for EndpointDescriptor {
    fn from(d: GatewayDescriptor) -> Self {
        Self::Gateway(d)
    }
}

impl From<ProviderDescriptor> for EndpointDescriptor {
    fn from(d: ProviderDescriptor) -> Self {
        Self::Provider(d)
    }
}
