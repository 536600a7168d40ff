//! `serve`: check the config, read secrets (failing fast, naming variables), bind both
//! listeners, load targets in the background (readiness flips when all are loaded), and
//! shut down on a signal, giving open streams a bounded time to finish.

use crate::app::{management_app, public_app};
use crate::config::GatewayConfig;
use crate::limits::LimitsConfig;
use crate::listener::{self, ListenerLimits};
use crate::state::AppState;
use crate::traffic::redis_store::RedisStore;
use crate::{secrets, targets};
use anyhow::{bail, Context, Result};
use sipp::{EndpointDescriptor, SippClient};
use sipp_gateway::{BearerTokens, Caller};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long open requests (streams included) may run on after a shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// After the drain bound: time for the final 503s and `error` events to be written.
pub const FLUSH: Duration = Duration::from_secs(2);

/// A config ready to serve: secrets read, endpoints described (nothing loaded yet).
#[derive(Debug)]
pub struct Prepared {
    pub state: Arc<AppState>,
    pub descriptors: Vec<(String, EndpointDescriptor)>,
    /// How each pool member is probed.
    pub probes: Vec<(String, crate::pool::health::Probe)>,
}

pub fn prepare(config: GatewayConfig, lookup: &impl Fn(&str) -> Option<String>) -> Result<Prepared> {
    let problems = config.validate();
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("the config has {} problem(s):\n  {}", list.len(), list.join("\n  "));
    }
    // Required although only the admin dashboard reads it: a deployment must set it.
    let admin_password = secrets::read(&config.admin_password_env, lookup).context("admin_password_env")?;
    let mut tokens = Vec::new();
    for (i, t) in config.tokens.iter().enumerate() {
        let value = secrets::read(&t.env, lookup).with_context(|| format!("tokens[{i}].env"))?;
        tokens.push((value, Caller(t.caller.clone())));
    }
    let mut descriptors = Vec::new();
    for t in &config.targets {
        let d = targets::descriptor(t, lookup, config.limits.upstream_timeout_seconds)
            .with_context(|| format!("target `{}`", t.name()))?;
        if let Some(d) = d {
            descriptors.push((t.name().to_string(), d));
        }
    }
    let probes = crate::pool::health::probes(&config.targets, lookup).context("pool member probes")?;
    let store = match &config.state {
        None => None,
        Some(c) => {
            let password = match &c.redis_password_env {
                Some(var) => Some(secrets::read(var, lookup).context("state.redis_password_env")?.expose().to_string()),
                None => None,
            };
            Some(RedisStore::new(c, password).context("state.redis_url")?)
        }
    };
    let mut state = AppState::new(Arc::new(SippClient::new()), config, BearerTokens::new(tokens));
    if let Some(store) = store {
        state.share_state(store);
    }
    state.admin.password = Some(admin_password);
    state.admin.assets = crate::admin::assets::Assets::locate(lookup);
    let state = Arc::new(state);
    Ok(Prepared { state, descriptors, probes })
}

/// Register every target; readiness flips once all are loaded.
pub async fn load_targets(state: &AppState, descriptors: Vec<(String, EndpointDescriptor)>) -> Result<()> {
    for (name, d) in descriptors {
        let endpoint = state.client.add(name.clone(), d).await.with_context(|| format!("loading target `{name}`"))?;
        tracing::info!(target_name = %name, kind = %endpoint.kind, "target ready");
        state.target_loaded(&name, endpoint);
    }
    state.set_ready();
    Ok(())
}

/// Bind, load and serve until `shutdown` resolves (then drain for at most [`DRAIN`]).
pub async fn run(prepared: Prepared, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    run_with_drain(prepared, shutdown, DRAIN).await
}

/// [`run`] with another drain bound; requests still open when it runs out end with a
/// 503 or an `error` event, and get [`FLUSH`] to be written.
pub async fn run_with_drain(
    prepared: Prepared,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<()> {
    let state = prepared.state;
    let public = bind(&state.config.public_bind).await?;
    let management = bind(&state.config.management_bind).await?;
    tracing::info!(public = %public.local_addr()?, management = %management.local_addr()?, "listening");
    let assets = &state.admin.assets;
    if assets.found {
        tracing::info!(assets = %assets.dir.display(), route = %state.config.routes.admin, "admin dashboard");
    } else {
        tracing::warn!("{}", assets.missing_message());
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let load_state = Arc::clone(&state);
    let load_stop = stop_tx.clone();
    let loading = tokio::spawn(async move {
        let r = load_targets(&load_state, prepared.descriptors).await;
        if r.is_err() {
            let _ = load_stop.send(true);
        }
        r
    });
    let sampled = Arc::clone(&state);
    let mut sampler_stop = stop_rx.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::activity::SAMPLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            tokio::select! {
                _ = every.tick() => sampled.sample_activity(),
                _ = sampler_stop.wait_for(|s| *s) => break,
            }
        }
    });
    let probing = tokio::spawn(crate::pool::health::run(Arc::clone(&state), prepared.probes));
    let pulling = tokio::spawn(crate::shared_controls::run(Arc::clone(&state)));
    if let Some(every) = state.traffic.tick_every() {
        let traffic = Arc::clone(&state.traffic);
        let mut tick_stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let stopped = async move {
                let _ = tick_stop.wait_for(|s| *s).await;
                // Requests draining keep their slots renewed until they end.
                tokio::time::sleep(drain + FLUSH).await;
            };
            let mut stopped = std::pin::pin!(stopped);
            loop {
                tokio::select! {
                    _ = ticks.tick() => traffic.tick().await,
                    () = &mut stopped => break,
                }
            }
        });
    }
    let signal_stop = stop_tx.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; open requests get {} s", drain.as_secs_f32());
        let _ = signal_stop.send(true);
    });

    let (public_limits, management_limits) = listener_limits(&state.config.limits);
    let public_srv = listener::serve(
        public,
        public_app(Arc::clone(&state)),
        public_limits,
        Arc::clone(&state),
        stop(stop_rx.clone()),
    );
    let management_srv = listener::serve(
        management,
        management_app(Arc::clone(&state)),
        management_limits,
        Arc::clone(&state),
        stop(stop_rx.clone()),
    );
    let servers = async {
        tokio::join!(public_srv, management_srv);
        anyhow::Ok(())
    };
    let drain_bound = async {
        stop(stop_rx.clone()).await;
        tokio::time::sleep(drain).await;
    };
    let mut servers = std::pin::pin!(servers);
    tokio::select! {
        r = &mut servers => { r.context("serving")?; }
        () = drain_bound => {
            // Requests still open get an answer that says why (a 503, or an `error`
            // event on a stream), then their connections close.
            tracing::warn!("open requests did not finish within {} s; ending them", drain.as_secs_f32());
            state.shutdown.cancel("the gateway is shutting down");
            match tokio::time::timeout(FLUSH, &mut servers).await {
                Ok(r) => { r.context("serving")?; }
                Err(_) => tracing::warn!("connections still open after the final events; closing them"),
            }
        }
    }
    if loading.is_finished() {
        loading.await.context("target loading")??;
    }
    probing.abort();
    pulling.abort();
    state.client.close();
    Ok(())
}

/// Descriptors kept free of connections: model and snapshot files, logs, and one
/// upstream socket per proxied request come out of the same budget.
const RESERVED_FDS: u64 = 64;

/// Both listeners' limits, with `max_connections` lowered when the open-file limit
/// could not hold it (then both would fail together at `accept`, with nothing said).
fn listener_limits(limits: &LimitsConfig) -> (ListenerLimits, ListenerLimits) {
    let management = u64::from(limits.max_management_connections);
    let wanted = u64::from(limits.max_connections);
    // Each public connection may hold an upstream socket too: two descriptors.
    let fits = |fds: u64| fds.saturating_sub(RESERVED_FDS + management) / 2;
    let fds = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the open-file limit; assuming 1024");
            1024
        }
    };
    let public = if fits(fds) < wanted {
        let lowered = fits(fds).max(1);
        tracing::warn!(
            max_connections = wanted,
            open_file_limit = fds,
            using = lowered,
            "limits.max_connections does not fit the open-file limit (ulimit -n); lowered"
        );
        lowered
    } else {
        wanted
    };
    let header_timeout = limits.header_timeout();
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    (
        ListenerLimits { name: "public", max_connections: to_usize(public), header_timeout },
        ListenerLimits { name: "management", max_connections: to_usize(management), header_timeout },
    )
}

async fn bind(addr: &str) -> Result<TcpListener> {
    let parsed: SocketAddr = addr.parse().with_context(|| format!("`{addr}` is not an address"))?;
    TcpListener::bind(parsed).await.with_context(|| format!("binding {addr}"))
}
