//! What the dashboard reads (typed in `answers`): its session, the gateway's routes,
//! targets (with the local backend each one loaded on), caller labels and limits, the
//! rolling metrics history, recent requests, sessions, the blocklist and the audit list.
//! Never a password, a bearer token or a provider key: tokens appear only as their caller
//! label, provider targets only by the name of the variable holding their key.

use super::answers::{
    AuditAnswer, BlockKind, BlockView, BlocklistAnswer, CallerView, ContextView, Limits, ManagementRoutes,
    MetricsAnswer, Overview, PublicRoutes, RateLimitView, RequestsAnswer, SessionAnswer, SessionsAnswer, TargetState,
    Totals,
};
use super::guard::{AdminError, Authorized};
use crate::config::{TargetConfig, TargetView};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

type Answer<T> = Result<Json<T>, AdminError>;

/// The session's own facts and its CSRF token: the app keeps the token in memory only
/// and fetches it again here after a reload (the cookie itself is HTTP-only).
pub async fn session(State(s): State<Arc<AppState>>, a: Authorized) -> Answer<SessionAnswer> {
    let session = s.admin.sessions.view(&a.session, Instant::now());
    Ok(Json(SessionAnswer { session, csrf_token: a.session.csrf }))
}

pub async fn overview(State(s): State<Arc<AppState>>, _: Authorized) -> Answer<Overview> {
    let r = &s.config.routes;
    let blocked = s.controls.blocklist().1;
    let tokens = s
        .config
        .tokens
        .iter()
        .map(|t| CallerView {
            caller: t.caller.clone(),
            targets: t.targets.clone(),
            all_targets: t.targets.is_empty(),
            blocked: blocked.iter().any(|e| e.value == t.caller),
        })
        .collect();
    Ok(Json(Overview {
        service: "sipp-gateway".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ready: s.is_ready(),
        public_bind: s.config.public_bind.clone(),
        management_bind: s.config.management_bind.clone(),
        public_routes: PublicRoutes {
            query: r.query.clone(),
            chat: r.chat.clone(),
            embed: r.embed.clone(),
            openai: r.openai_routes().map(Vec::from),
        },
        management_routes: ManagementRoutes {
            index: r.index.clone(),
            health: r.health.clone(),
            readiness: r.readiness.clone(),
            metrics: r.metrics.clone(),
            admin: r.admin.clone(),
        },
        targets: s.config.targets.iter().map(|t| target(&s, t)).collect(),
        tokens,
        limits: Limits {
            max_concurrent_requests: s.admission.limit(),
            configured_max_concurrent_requests: s.config.max_concurrent_requests,
            admission_held: s.admission.held(),
            rate_limit: RateLimitView::from(&s.rate_limit_config()),
            configured_rate_limit: RateLimitView::from(&s.config.security.rate_limit),
        },
        fallbacks: s.controls.fallbacks(),
    }))
}

/// One target: what it is, whether it loaded, and the operator's overrides.
fn target(s: &AppState, t: &TargetConfig) -> TargetState {
    let name = t.name();
    let loaded = s.is_loaded(name);
    let disabled = s.controls.disabled(name);
    let mut state = TargetState {
        name: name.to_string(),
        kind: t.type_name().to_string(),
        model: String::new(),
        loaded,
        ready: loaded && disabled.is_none(),
        disabled,
        fallback: s.controls.fallback(name),
        backend: None,
        backend_configured: None,
        model_path: None,
        context: None,
        base_url: None,
        key_env: None,
    };
    match t.view() {
        TargetView::Local(l) => {
            let endpoint = sipp::EndpointRef { kind: sipp::EndpointKind::Local, id: name.to_string() };
            let info = loaded.then(|| s.client.endpoint_info(&endpoint).ok()).flatten();
            state.model =
                l.model.file_name().map_or_else(|| l.model.display().to_string(), |f| f.to_string_lossy().into());
            state.model_path = Some(l.model.display().to_string());
            state.backend_configured = Some(l.backend.as_str().to_string());
            // What `auto` resolved to on this machine, once loaded.
            state.backend = info.as_ref().map(|i| i.backend.as_str().to_string());
            state.context = info.map(|i| ContextView {
                n_ctx: i.n_ctx,
                n_seq_max: i.n_seq_max,
                kv_cells: i.kv_cells,
                embeddings: i.embeddings,
            });
        }
        TargetView::Pool(p) => state.model = p.members.join(", "),
        TargetView::Provider(kind, p) => {
            let spec = sipp::provider_spec(kind);
            state.model = p.model.clone();
            state.base_url = p.base_url.as_deref().or(spec.default_base_url).map(without_userinfo);
            state.key_env = p.key_env(kind).map(str::to_string);
        }
    }
    state
}

/// A URL with any `user:password@` replaced: the dashboard shows where, never with what.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[derive(Debug, Deserialize)]
pub struct Since {
    #[serde(default)]
    since: u64,
}

/// The rolling history newer than `?since=` (unix ms), with totals since start.
pub async fn metrics(State(s): State<Arc<AppState>>, _: Authorized, Query(q): Query<Since>) -> Answer<MetricsAnswer> {
    let (requests, errors, input_tokens, output_tokens) = s.metrics.totals();
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Ok(Json(MetricsAnswer {
        sample_every_ms: ms(crate::activity::SAMPLE_EVERY),
        history_ms: ms(crate::activity::HISTORY),
        samples: s.activity.history(q.since),
        totals: Totals {
            requests,
            errors,
            input_tokens,
            output_tokens,
            in_flight: s.metrics.in_flight_now(),
            rejections: s.metrics.rejections_total().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            blocked: s.controls.block_hits(),
        },
    }))
}

#[derive(Debug, Deserialize)]
pub struct Limit {
    limit: Option<usize>,
}

pub async fn requests(State(s): State<Arc<AppState>>, _: Authorized, Query(q): Query<Limit>) -> Answer<RequestsAnswer> {
    let limit = q.limit.unwrap_or(100).min(crate::activity::RECENT);
    Ok(Json(RequestsAnswer { requests: s.activity.recent(limit) }))
}

pub async fn sessions(State(s): State<Arc<AppState>>, a: Authorized) -> Answer<SessionsAnswer> {
    Ok(Json(SessionsAnswer { sessions: s.admin.sessions.list(), current: a.session.id }))
}

pub async fn audit(State(s): State<Arc<AppState>>, _: Authorized) -> Answer<AuditAnswer> {
    Ok(Json(AuditAnswer { entries: s.admin.audit.list() }))
}

pub async fn blocklist(State(s): State<Arc<AppState>>, _: Authorized) -> Answer<BlocklistAnswer> {
    let (clients, callers) = s.controls.blocklist();
    let view = |e: &Arc<crate::controls::BlockEntry>, kind| BlockView {
        kind,
        value: e.value.clone(),
        reason: e.reason.clone(),
        added_at: e.added_at,
        added_by: e.added_by.clone(),
        hits: e.hits.load(Ordering::Relaxed),
    };
    let entries = clients
        .iter()
        .map(|e| view(e, BlockKind::Ip))
        .chain(callers.iter().map(|e| view(e, BlockKind::Caller)))
        .collect();
    Ok(Json(BlocklistAnswer { entries }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(super::without_userinfo("https://u:p@api.example/v1/x@y"), "https://***@api.example/v1/x@y");
        assert_eq!(super::without_userinfo("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080/v1");
    }
}
