//! What every handler shares: the Sipp client holding the targets, the gateway pipeline
//! (targets, per-caller allowlists, admission), the client-IP rate limit, readiness and
//! the counters. The policy parts implement `sipp::gateway_core`'s traits, so every
//! protocol served here goes through the same order.

use crate::client_ip::ClientIp;
use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::rate_limit::ClientRateLimit;
use sipp::gateway_core::{
    AdmissionController, AdmissionPermit, Authorizer, GatewayPipeline, GatewayRefusal, GatewayRequestContext,
    TargetResolver,
};
use sipp::{EndpointRef, SippClient};
use sipp_gateway::{BearerTokens, GatewayHttpError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Semaphore;

#[derive(Debug)]
pub struct AppState {
    pub client: Arc<SippClient>,
    pub config: GatewayConfig,
    pub tokens: BearerTokens,
    pub pipeline: GatewayPipeline,
    targets: Arc<Targets>,
    pub client_ip: ClientIp,
    rate_limit: Option<ClientRateLimit>,
    ready: AtomicBool,
    pub metrics: Metrics,
    /// Read at `serve` for the admin dashboard (which plugs into the management router).
    pub admin_password: Option<sipp::Secret>,
    /// Cancelled when the shutdown drain bound runs out: every request context carries it.
    pub shutdown: Arc<sipp::CancelToken>,
}

/// Configured target names and the endpoints of those that finished loading.
#[derive(Debug, Default)]
struct Targets {
    configured: HashSet<String>,
    loaded: RwLock<HashMap<String, EndpointRef>>,
}

impl TargetResolver for Targets {
    fn exists(&self, target: &str) -> bool {
        self.configured.contains(target)
    }

    fn resolve(&self, target: &str) -> Result<EndpointRef, GatewayRefusal> {
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded.get(target).cloned().ok_or_else(|| GatewayRefusal::Loading(target.to_string()))
    }
}

/// Caller -> allowed targets (`None`: every target), from `[[tokens]]`.
#[derive(Debug)]
struct Allowlists(HashMap<String, Option<HashSet<String>>>);

impl Authorizer for Allowlists {
    fn authorize(&self, context: &GatewayRequestContext, target: &str) -> Result<(), GatewayRefusal> {
        match self.0.get(&context.caller) {
            Some(None) => Ok(()),
            Some(Some(set)) if set.contains(target) => Ok(()),
            _ => Err(GatewayRefusal::Forbidden(target.to_string())),
        }
    }
}

/// `max_concurrent_requests` as a semaphore; unset means no limit.
#[derive(Debug)]
struct Admission(Option<Arc<Semaphore>>);

impl AdmissionController for Admission {
    fn admit(&self) -> Result<AdmissionPermit, GatewayRefusal> {
        let Some(sem) = &self.0 else { return Ok(AdmissionPermit::unlimited()) };
        Arc::clone(sem)
            .try_acquire_owned()
            .map(AdmissionPermit::holding)
            .map_err(|_| GatewayRefusal::Overloaded("max_concurrent_requests admission limit is full".into()))
    }
}

impl AppState {
    /// `tokens` hold the token values already read from the environment.
    pub fn new(client: Arc<SippClient>, config: GatewayConfig, tokens: BearerTokens) -> Self {
        let allow = config
            .tokens
            .iter()
            .map(|t| (t.caller.clone(), (!t.targets.is_empty()).then(|| t.targets.iter().cloned().collect())))
            .collect();
        let targets = Arc::new(Targets {
            configured: config.targets.iter().map(|t| t.name().to_string()).collect(),
            loaded: RwLock::default(),
        });
        let admission = Admission(config.max_concurrent_requests.map(|n| Arc::new(Semaphore::new(n as usize))));
        let pipeline = GatewayPipeline {
            resolver: Arc::clone(&targets) as Arc<dyn TargetResolver>,
            authorizer: Arc::new(Allowlists(allow)),
            admission: Arc::new(admission),
            executor: Arc::clone(&client) as Arc<dyn sipp::gateway_core::GatewayExecutor>,
        };
        Self {
            client_ip: ClientIp::new(&config.security.client_ip),
            rate_limit: ClientRateLimit::new(&config.security.rate_limit),
            client,
            config,
            tokens,
            pipeline,
            targets,
            ready: AtomicBool::new(false),
            metrics: Metrics::default(),
            admin_password: None,
            shutdown: Arc::default(),
        }
    }

    pub fn target_loaded(&self, name: &str, endpoint: EndpointRef) {
        self.targets
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_string(), endpoint);
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Configured targets `context`'s caller may use, in configuration order.
    pub fn visible_targets(&self, context: &GatewayRequestContext) -> Vec<String> {
        self.config
            .targets
            .iter()
            .map(|t| t.name().to_string())
            .filter(|name| self.pipeline.authorizer.authorize(context, name).is_ok())
            .collect()
    }

    /// One request from `client` against its token bucket.
    pub fn rate_limit(&self, client: std::net::IpAddr) -> Result<(), GatewayHttpError> {
        let Some(limit) = &self.rate_limit else { return Ok(()) };
        limit.check(client).map_err(|wait| {
            GatewayHttpError::of(sipp::ErrorCode::Overloaded, "rate limit: too many requests from this client")
                .with_retry_after(wait.max(1))
        })
    }

    /// A pipeline refusal as an HTTP answer, counted by reason.
    pub fn refused(&self, refusal: &GatewayRefusal) -> GatewayHttpError {
        match refusal {
            GatewayRefusal::Forbidden(_) => self.metrics.rejected("forbidden"),
            GatewayRefusal::Overloaded(_) => self.metrics.rejected("overloaded"),
            GatewayRefusal::ShuttingDown => self.metrics.rejected("shutting_down"),
            GatewayRefusal::UnknownTarget(_) | GatewayRefusal::Loading(_) => {}
        }
        GatewayHttpError::of(refusal.error_code(), refusal.to_string())
    }
}
