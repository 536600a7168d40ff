//! The pipeline's parts: request context, the policy traits a server implements, and
//! the typed refusals they return.

use crate::client::{SippEmbeddingRun, SippTextRun};
use crate::error::ErrorCode;
use crate::types::{CancelToken, EndpointRef, SippEmbedRequest, SippTextRequest};
use crate::SippClient;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// What the pipeline knows of a request besides its body.
#[derive(Debug, Clone)]
pub struct GatewayRequestContext {
    pub request_id: String,
    /// The authenticated caller, as the server's policy names it.
    pub caller: String,
    /// Fires when the request must end early (the server's shutdown bound ran out): the
    /// pipeline admits nothing under a cancelled context, and the server ends what runs.
    pub cancellation: Arc<CancelToken>,
}

impl GatewayRequestContext {
    /// A context that is never cancelled from outside.
    #[must_use]
    pub fn new(request_id: impl Into<String>, caller: impl Into<String>) -> Self {
        Self { request_id: request_id.into(), caller: caller.into(), cancellation: Arc::default() }
    }

    /// The id a request carries upstream: the caller's own, else this gateway's.
    #[must_use]
    pub fn upstream_request_id(&self, own: Option<String>) -> Option<String> {
        own.or_else(|| Some(self.request_id.clone()))
    }
}

/// A request refused before anything ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayRefusal {
    #[error("target `{0}` is not configured")]
    UnknownTarget(String),
    #[error("token is not allowed to access target")]
    Forbidden(String),
    #[error("target `{0}` is still loading")]
    Loading(String),
    #[error("{0}")]
    Overloaded(String),
    #[error("the gateway is shutting down")]
    ShuttingDown,
}

impl GatewayRefusal {
    /// The same codes as `SippError::code`, so every front end maps them once.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    #[must_use]
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::UnknownTarget(_) => ErrorCode::NotFound,
            Self::Forbidden(_) => ErrorCode::Authorization,
            Self::Loading(_) | Self::ShuttingDown => ErrorCode::Unavailable,
            Self::Overloaded(_) => ErrorCode::Overloaded,
        }
    }

    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.error_code().http_status()
    }

    /// Seconds a caller should wait before trying again, where waiting helps.
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.error_code().retry_after_default()
    }
}

/// Maps public target names to registered endpoints.
pub trait TargetResolver: Send + Sync {
    /// Whether `target` is configured at all (loaded or not).
    fn exists(&self, target: &str) -> bool;
    /// The endpoint, or `Loading` while it is not ready.
    fn resolve(&self, target: &str) -> Result<EndpointRef, GatewayRefusal>;
}

/// Decides whether the caller may use a target.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, context: &GatewayRequestContext, target: &str) -> Result<(), GatewayRefusal>;
}

/// Bounds how many requests run at once.
pub trait AdmissionController: Send + Sync {
    fn admit(&self) -> Result<AdmissionPermit, GatewayRefusal>;
}

/// A place taken from an [`AdmissionController`]; dropping it frees the place.
pub struct AdmissionPermit(Option<Box<dyn Any + Send + Sync>>);

impl AdmissionPermit {
    /// No limit applies.
    #[must_use]
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// Hold `guard` (e.g. a semaphore permit) until the request's last event.
    pub fn holding(guard: impl Any + Send + Sync) -> Self {
        Self(Some(Box::new(guard)))
    }
}

impl fmt::Debug for AdmissionPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "AdmissionPermit(held)" } else { "AdmissionPermit(unlimited)" })
    }
}

/// Runs the typed operation; `SippClient` is the implementation servers use.
pub trait GatewayExecutor: Send + Sync {
    fn text(&self, request: &SippTextRequest) -> SippTextRun;
    fn embed(&self, request: SippEmbedRequest) -> SippEmbeddingRun;
}

impl GatewayExecutor for SippClient {
    fn text(&self, request: &SippTextRequest) -> SippTextRun {
        SippClient::text(self, request)
    }

    fn embed(&self, request: SippEmbedRequest) -> SippEmbeddingRun {
        SippClient::embed(self, request)
    }
}
