//! What every handler shares: the Sipp client holding the targets, who may call which
//! target, the admission limit, and the counters.

use crate::client_ip::ClientIp;
use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::rate_limit::ClientRateLimit;
use sipp::{EndpointRef, SippClient};
use sipp_gateway::{BearerTokens, Caller, GatewayHttpError, StatusCode};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct AppState {
    pub client: Arc<SippClient>,
    pub config: GatewayConfig,
    pub tokens: BearerTokens,
    /// Caller -> allowed targets; `None` allows every target.
    allow: HashMap<String, Option<HashSet<String>>>,
    /// Targets that finished loading, by public name.
    loaded: RwLock<HashMap<String, EndpointRef>>,
    admission: Option<Arc<Semaphore>>,
    pub client_ip: ClientIp,
    rate_limit: Option<ClientRateLimit>,
    ready: AtomicBool,
    pub metrics: Metrics,
}

impl AppState {
    /// `tokens` are (token value, caller) pairs already read from the environment.
    pub fn new(client: Arc<SippClient>, config: GatewayConfig, tokens: BearerTokens) -> Self {
        let allow = config
            .tokens
            .iter()
            .map(|t| (t.caller.clone(), (!t.targets.is_empty()).then(|| t.targets.iter().cloned().collect())))
            .collect();
        let admission = config.max_concurrent_requests.map(|n| Arc::new(Semaphore::new(n as usize)));
        Self {
            client_ip: ClientIp::new(&config.security.client_ip),
            rate_limit: ClientRateLimit::new(&config.security.rate_limit),
            client,
            config,
            tokens,
            allow,
            loaded: RwLock::default(),
            admission,
            ready: AtomicBool::new(false),
            metrics: Metrics::default(),
        }
    }

    pub fn target_loaded(&self, name: &str, endpoint: EndpointRef) {
        self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_string(), endpoint);
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The endpoint of `target` if it exists, is loaded, and `caller` may use it.
    pub fn resolve(&self, caller: &Caller, target: &str) -> Result<EndpointRef, GatewayHttpError> {
        if !self.config.targets.iter().any(|t| t.name() == target) {
            return Err(GatewayHttpError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("target `{target}` is not configured"),
            ));
        }
        let allowed = match self.allow.get(&caller.0) {
            Some(None) => true,
            Some(Some(set)) => set.contains(target),
            None => false,
        };
        if !allowed {
            return Err(GatewayHttpError::new(
                StatusCode::FORBIDDEN,
                "authorization",
                "token is not allowed to access target",
            ));
        }
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded.get(target).cloned().ok_or_else(|| {
            GatewayHttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("target `{target}` is still loading"),
            )
            .with_retry_after(1)
        })
    }

    /// One request from `client` against its token bucket.
    pub fn rate_limit(&self, client: std::net::IpAddr) -> Result<(), GatewayHttpError> {
        let Some(limit) = &self.rate_limit else { return Ok(()) };
        limit.check(client).map_err(|wait| {
            GatewayHttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded",
                "rate limit: too many requests from this client",
            )
            .with_retry_after(wait.max(1))
        })
    }

    /// A place under `max_concurrent_requests`, held until the answer's last byte.
    pub fn admit(&self) -> Result<Option<OwnedSemaphorePermit>, GatewayHttpError> {
        let Some(sem) = &self.admission else { return Ok(None) };
        Arc::clone(sem).try_acquire_owned().map(Some).map_err(|_| {
            GatewayHttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded",
                "max_concurrent_requests admission limit is full",
            )
            .with_retry_after(1)
        })
    }
}
