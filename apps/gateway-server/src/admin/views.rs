//! What the dashboard reads: its session, the gateway's routes, targets (with the local
//! backend each one loaded on), caller labels and limits, the rolling metrics history,
//! recent requests, sessions, the blocklist and the audit list. Never a password, a
//! bearer token or a provider key: tokens appear only as their caller label, provider
//! targets only by the name of the variable holding their key.

use super::guard::{AdminError, Authorized};
use crate::config::TargetView;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

type Answer = Result<Json<Value>, AdminError>;

/// The session's own facts and its CSRF token: the app keeps the token in memory only
/// and fetches it again here after a reload (the cookie itself is HTTP-only).
pub async fn session(State(s): State<Arc<AppState>>, a: Authorized) -> Answer {
    let view = s.admin.sessions.view(&a.session, Instant::now());
    Ok(Json(json!({"session": view, "csrf_token": a.session.csrf})))
}

pub async fn overview(State(s): State<Arc<AppState>>, _: Authorized) -> Answer {
    let r = &s.config.routes;
    let targets: Vec<Value> = s.config.targets.iter().map(|t| target(&s, t)).collect();
    let tokens: Vec<Value> = s
        .config
        .tokens
        .iter()
        .map(|t| {
            let blocked = s.controls.blocklist().1.iter().any(|e| e.value == t.caller);
            json!({"caller": t.caller, "targets": t.targets, "all_targets": t.targets.is_empty(), "blocked": blocked})
        })
        .collect();
    let rate = s.rate_limit_config();
    let toml_rate = &s.config.security.rate_limit;
    Ok(Json(json!({
        "service": "sipp-gateway",
        "version": env!("CARGO_PKG_VERSION"),
        "ready": s.is_ready(),
        "public_bind": s.config.public_bind,
        "management_bind": s.config.management_bind,
        "public_routes": {"query": r.query, "chat": r.chat, "embed": r.embed, "openai": r.openai_routes()},
        "management_routes": {"index": r.index, "health": r.health, "readiness": r.readiness, "metrics": r.metrics, "admin": r.admin},
        "targets": targets,
        "tokens": tokens,
        "limits": {
            "max_concurrent_requests": s.admission.limit(),
            "configured_max_concurrent_requests": s.config.max_concurrent_requests,
            "admission_held": s.admission.held(),
            "rate_limit": {"enabled": rate.enabled, "requests_per_minute": rate.requests_per_minute, "burst": rate.burst},
            "configured_rate_limit": {"enabled": toml_rate.enabled, "requests_per_minute": toml_rate.requests_per_minute, "burst": toml_rate.burst},
        },
        "fallbacks": s.controls.fallbacks(),
    })))
}

/// One target: what it is, whether it loaded, and the operator's overrides.
fn target(s: &AppState, t: &crate::config::TargetConfig) -> Value {
    let name = t.name();
    let loaded = s.is_loaded(name);
    let mut v = json!({
        "name": name,
        "type": t.type_name(),
        "loaded": loaded,
        "ready": loaded && s.controls.disabled(name).is_none(),
        "disabled": s.controls.disabled(name),
        "fallback": s.controls.fallback(name),
    });
    match t.view() {
        TargetView::Local(l) => {
            let endpoint = sipp::EndpointRef { kind: sipp::EndpointKind::Local, id: name.to_string() };
            let info = loaded.then(|| s.client.endpoint_info(&endpoint).ok()).flatten();
            v["model"] = json!(l
                .model
                .file_name()
                .map_or_else(|| l.model.display().to_string(), |f| f.to_string_lossy().into_owned()));
            v["model_path"] = json!(l.model.display().to_string());
            v["backend_configured"] = json!(l.backend.as_str());
            // What `auto` resolved to on this machine, once loaded.
            v["backend"] = json!(info.as_ref().map(|i| i.backend.as_str()));
            v["context"] = json!(info.as_ref().map(|i| json!({"n_ctx": i.n_ctx, "n_seq_max": i.n_seq_max, "kv_cells": i.kv_cells, "embeddings": i.embeddings})));
        }
        TargetView::Provider(kind, p) => {
            let spec = sipp::provider_spec(kind);
            v["model"] = json!(p.model);
            v["base_url"] = json!(p.base_url.as_deref().or(spec.default_base_url).map(without_userinfo));
            v["key_env"] = json!(p.key_env(kind));
            v["backend"] = Value::Null;
        }
    }
    v
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
pub async fn metrics(State(s): State<Arc<AppState>>, _: Authorized, Query(q): Query<Since>) -> Answer {
    let (requests, errors, input, output) = s.metrics.totals();
    Ok(Json(json!({
        "sample_every_ms": crate::activity::SAMPLE_EVERY.as_millis(),
        "history_ms": crate::activity::HISTORY.as_millis(),
        "samples": s.activity.history(q.since),
        "totals": {
            "requests": requests,
            "errors": errors,
            "input_tokens": input,
            "output_tokens": output,
            "in_flight": s.metrics.in_flight_now(),
            "rejections": s.metrics.rejections_total(),
            "blocked": s.controls.block_hits(),
        },
    })))
}

#[derive(Debug, Deserialize)]
pub struct Limit {
    limit: Option<usize>,
}

pub async fn requests(State(s): State<Arc<AppState>>, _: Authorized, Query(q): Query<Limit>) -> Answer {
    let limit = q.limit.unwrap_or(100).min(crate::activity::RECENT);
    Ok(Json(json!({"requests": s.activity.recent(limit)})))
}

pub async fn sessions(State(s): State<Arc<AppState>>, a: Authorized) -> Answer {
    Ok(Json(json!({"sessions": s.admin.sessions.list(), "current": a.session.id})))
}

pub async fn audit(State(s): State<Arc<AppState>>, _: Authorized) -> Answer {
    Ok(Json(json!({"entries": s.admin.audit.list()})))
}

pub async fn blocklist(State(s): State<Arc<AppState>>, _: Authorized) -> Answer {
    let (clients, callers) = s.controls.blocklist();
    let view = |e: &Arc<crate::controls::BlockEntry>, kind: &str| {
        json!({"kind": kind, "value": e.value, "reason": e.reason, "added_at": e.added_at,
               "added_by": e.added_by, "hits": e.hits.load(Ordering::Relaxed)})
    };
    let entries: Vec<Value> =
        clients.iter().map(|e| view(e, "ip")).chain(callers.iter().map(|e| view(e, "caller"))).collect();
    Ok(Json(json!({"entries": entries})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(super::without_userinfo("https://u:p@api.example/v1/x@y"), "https://***@api.example/v1/x@y");
        assert_eq!(super::without_userinfo("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080/v1");
    }
}
