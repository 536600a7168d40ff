//! What every handler shares: the Sipp client holding the targets, the gateway pipeline
//! (targets, per-caller allowlists, admission), the client-IP rate limit, readiness and
//! the counters. The policy parts implement `sipp::gateway_core`'s traits, so every
//! protocol served here goes through the same order. The runtime controls, activity
//! history and admin sessions of the dashboard live here too (process-local).

use crate::activity::Activity;
use crate::admin::AdminState;
use crate::admission::Admission;
use crate::client_ip::ClientIp;
use crate::config::{GatewayConfig, RateLimitConfig};
use crate::controls::Controls;
use crate::metrics::Metrics;
use crate::rate_limit::ClientRateLimit;
use crate::sync::{read, write};
use crate::traffic::redis_store::RedisStore;
use crate::traffic::TrafficControl;
use sipp::gateway_core::{Authorizer, GatewayPipeline, GatewayRefusal, GatewayRequestContext, TargetResolver};
use sipp::{EndpointRef, SippClient};
use sipp_gateway::{BearerTokens, GatewayHttpError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub struct AppState {
    pub client: Arc<SippClient>,
    pub config: GatewayConfig,
    pub tokens: BearerTokens,
    pub pipeline: GatewayPipeline,
    targets: Arc<Targets>,
    pub client_ip: ClientIp,
    /// The parameters in force (the TOML's, until an operator changes them) and their
    /// limiter; a change starts every client with a full bucket.
    rate_limit: RwLock<(RateLimitConfig, Option<ClientRateLimit>)>,
    pub admission: Arc<Admission>,
    ready: AtomicBool,
    pub metrics: Metrics,
    pub controls: Controls,
    pub activity: Activity,
    pub admin: AdminState,
    /// Cancelled when the shutdown drain bound runs out: every request context carries it.
    pub shutdown: Arc<sipp::CancelToken>,
    /// The callers' and targets' traffic limits (in memory; [`AppState::share_state`]
    /// moves them to `[state]`'s store).
    pub traffic: Arc<TrafficControl>,
    /// The config's target pools and their members' load and health.
    pub pools: crate::pool::Pools,
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
        let loaded = read(&self.loaded);
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
        let admission = Arc::new(Admission::new(config.max_concurrent_requests));
        let pipeline = GatewayPipeline {
            resolver: Arc::clone(&targets) as Arc<dyn TargetResolver>,
            authorizer: Arc::new(Allowlists(allow)),
            admission: Arc::clone(&admission) as Arc<dyn sipp::gateway_core::AdmissionController>,
            executor: Arc::clone(&client) as Arc<dyn sipp::gateway_core::GatewayExecutor>,
        };
        let traffic = Arc::new(traffic_control(&config, None));
        Self {
            traffic,
            pools: crate::pool::Pools::new(&config),
            client_ip: ClientIp::new(&config.security.client_ip),
            rate_limit: RwLock::new((
                config.security.rate_limit.clone(),
                ClientRateLimit::new(&config.security.rate_limit),
            )),
            admission,
            client,
            config,
            tokens,
            pipeline,
            targets,
            ready: AtomicBool::new(false),
            metrics: Metrics::default(),
            controls: Controls::default(),
            activity: Activity::default(),
            admin: AdminState::default(),
            shutdown: Arc::default(),
        }
    }

    /// Count traffic limits in `[state]`'s store (`store` made from it).
    pub fn share_state(&mut self, store: RedisStore) {
        self.traffic = Arc::new(traffic_control(&self.config, Some(store)));
    }

    pub fn target_loaded(&self, name: &str, endpoint: EndpointRef) {
        write(&self.targets.loaded).insert(name.to_string(), endpoint);
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Every target loaded, and the shared limit store reachable where it fails closed.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.traffic.ready()
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

    /// Whether a target is configured and finished loading.
    /// (A pool: whether any member did.)
    pub fn is_loaded(&self, name: &str) -> bool {
        let loaded = read(&self.targets.loaded);
        match self.pools.get(name) {
            Some(pool) => pool.members.iter().any(|m| loaded.contains_key(&m.name)),
            None => loaded.contains_key(name),
        }
    }

    /// One request from `client` against its token bucket.
    pub fn rate_limit(&self, client: std::net::IpAddr) -> Result<(), GatewayHttpError> {
        let guard = read(&self.rate_limit);
        let Some(limit) = &guard.1 else { return Ok(()) };
        limit.check(client).map_err(|wait| {
            GatewayHttpError::of(sipp::ErrorCode::Overloaded, "rate limit: too many requests from this client")
                .with_retry_after(wait.max(1))
        })
    }

    /// Close the dashboard's current history interval: the gauges now, and each local
    /// target's engine (those whose `stats` is not `off`).
    pub fn sample_activity(&self) {
        let engines = self
            .engine_stats()
            .into_iter()
            .map(|(name, e)| {
                let sample = crate::activity::EngineSample {
                    running: e.running_requests,
                    waiting: e.waiting_requests,
                    kv_cells_used: e.kv_cells_used,
                    kv_cells_total: e.kv_cells_total,
                    snapshot_restores: e.snapshot_restores,
                    reused_prompt_tokens: e.reused_prompt_tokens,
                };
                (name, sample)
            })
            .collect();
        let gauges = crate::activity::Gauges {
            in_flight: self.metrics.in_flight_now(),
            admission_held: self.admission.held(),
            rejections_total: self.metrics.rejections_total(),
            engines,
        };
        self.activity.sample(crate::controls::unix_ms(), gauges);
    }

    /// The engine counters of each local target whose `stats` is not `off` (what
    /// `/metrics` exports and the dashboard samples).
    pub fn engine_stats(&self) -> Vec<(String, sipp::EngineStats)> {
        let mut rows = Vec::new();
        for t in &self.config.targets {
            let crate::config::TargetConfig::Local(l) = t else { continue };
            if l.stats == crate::config::Stats::Off {
                continue;
            }
            let endpoint = EndpointRef { kind: sipp::EndpointKind::Local, id: l.name.clone() };
            if let Ok(stats) = self.client.endpoint_stats(&endpoint) {
                rows.push((l.name.clone(), stats));
            }
        }
        rows
    }

    /// The rate-limit parameters in force.
    pub fn rate_limit_config(&self) -> RateLimitConfig {
        read(&self.rate_limit).0.clone()
    }

    /// New rate-limit parameters, in force from the next request (buckets start full).
    pub fn set_rate_limit(&self, config: RateLimitConfig) {
        let limiter = ClientRateLimit::new(&config);
        *write(&self.rate_limit) = (config, limiter);
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

/// The config's limits: each caller's (from its `[[tokens]]`), each target's.
fn traffic_control(config: &GatewayConfig, store: Option<RedisStore>) -> TrafficControl {
    let callers = config.tokens.iter().map(|t| (t.caller.clone(), t.limits())).collect();
    let targets = config.targets.iter().map(|t| (t.name().to_string(), t.limits())).collect();
    let shared = match (store, &config.state) {
        (Some(store), Some(state)) => Some((store, state)),
        _ => None,
    };
    TrafficControl::new(callers, targets, shared)
}
