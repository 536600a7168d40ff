//! What the dashboard changes: login and logout, session revocation, the blocklist,
//! disabled targets, fallbacks, the admission limit and the rate limit. Each takes effect
//! on the next public request, lives only in this process (under `[state]` the
//! blocklist, disabled targets and fallbacks live in every replica), and is written to
//! the audit list with the acting session's handle.

use super::answers::{Block, BlockKind, Disable, Fallback, LimitsChange, Login, RateLimitView, SessionAnswer, Unblock};
use super::guard::{self, AdminError, Authorized};
use super::session::LoginRefused;
use crate::config::RateLimitConfig;
use crate::controls::SharedKind;
use crate::shared_controls;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

type Answer = Result<Json<Value>, AdminError>;

/// Free text an operator typed (a reason): bounded and free of control characters.
const MAX_TEXT: usize = 200;

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, AdminError> {
    serde_json::from_slice(bytes).map_err(|e| AdminError::invalid(format!("invalid JSON body: {e}")))
}

fn text(value: Option<String>) -> String {
    value.unwrap_or_default().chars().filter(|c| !c.is_control()).take(MAX_TEXT).collect()
}

fn audit(s: &AppState, a: &Authorized, action: &'static str, detail: impl Into<String>) {
    s.admin.audit.push(&a.session.id, &a.session.client.to_string(), action, detail);
}

/// `POST <admin>/api/session {"password": …}`: a session cookie and its CSRF token.
pub async fn login(State(s): State<Arc<AppState>>, parts: Parts, bytes: Bytes) -> Result<Response, AdminError> {
    let client = guard::client(&s, &parts);
    let given: Login = body(&bytes)?;
    let Some(password) = &s.admin.password else {
        return Err(AdminError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "no admin password was read"));
    };
    match s.admin.sessions.login(password.expose(), &given.password, client) {
        Ok((secret, session)) => {
            s.admin.audit.push(&session.id, &client.to_string(), "login", "");
            let view = s.admin.sessions.view(&session, Instant::now());
            let mut r = Json(SessionAnswer { session: view, csrf_token: session.csrf }).into_response();
            r.headers_mut().insert(SET_COOKIE, guard::session_cookie(&s.config.routes.admin, &secret));
            Ok(r)
        }
        Err(LoginRefused::WrongPassword) => {
            s.admin.audit.push("-", &client.to_string(), "login_failed", "wrong password");
            Err(AdminError::new(StatusCode::UNAUTHORIZED, "authentication", "wrong password"))
        }
        Err(LoginRefused::Throttled(wait)) => {
            s.admin.audit.push("-", &client.to_string(), "login_throttled", format!("retry in {wait} s"));
            let mut e = AdminError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded",
                format!("too many wrong passwords from this client; retry in {wait} s"),
            );
            e.0.retry_after_secs = Some(wait);
            Err(e)
        }
        Err(LoginRefused::NoRandomness) => Err(AdminError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the operating system's random generator failed; no session can be made",
        )),
    }
}

/// `DELETE <admin>/api/session`: this browser logs out.
pub async fn logout(State(s): State<Arc<AppState>>, a: Authorized) -> Response {
    s.admin.sessions.logout(&a.secret);
    audit(&s, &a, "logout", "");
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(SET_COOKIE, guard::cleared_cookie(&s.config.routes.admin));
    r
}

pub async fn revoke_session(State(s): State<Arc<AppState>>, a: Authorized, Path(id): Path<String>) -> Answer {
    if !s.admin.sessions.revoke(&id) {
        return Err(AdminError::not_found("no such session"));
    }
    audit(&s, &a, "revoke_session", id.clone());
    Ok(Json(json!({"revoked": id})))
}

/// `POST <admin>/api/blocklist {"kind": "ip"|"caller", "value": …, "reason": …}`.
pub async fn block(State(s): State<Arc<AppState>>, a: Authorized, bytes: Bytes) -> Answer {
    let b: Block = body(&bytes)?;
    let reason = text(b.reason);
    let (value, kind) = match b.kind {
        BlockKind::Ip => {
            let v = s
                .controls
                .block_client(&b.value, &reason, &a.session.id)
                .map_err(|e| AdminError::invalid(e.to_string()))?;
            (v, SharedKind::Clients)
        }
        BlockKind::Caller => {
            known_caller(&s, &b.value)?;
            s.controls
                .block_caller(&b.value, &reason, &a.session.id)
                .map_err(|e| AdminError::invalid(e.to_string()))?;
            (b.value, SharedKind::Callers)
        }
    };
    if let Err(e) = shared_controls::publish_block(&s, kind, &value).await {
        // Every replica or none: without the shared store the change is undone here.
        let _ = match kind {
            SharedKind::Clients => s.controls.unblock_client(&value).map(|_| ()),
            SharedKind::Callers => s.controls.unblock_caller(&value),
        };
        return Err(store_unreachable(&e));
    }
    audit(&s, &a, "block", format!("{value} ({reason})"));
    Ok(Json(json!({"blocked": value})))
}

/// `DELETE <admin>/api/blocklist {"kind": …, "value": …}`.
pub async fn unblock(State(s): State<Arc<AppState>>, a: Authorized, bytes: Bytes) -> Answer {
    let u: Unblock = body(&bytes)?;
    let (kind, canonical) = match u.kind {
        BlockKind::Ip => (SharedKind::Clients, s.controls.canonical_client(&u.value)),
        BlockKind::Caller => (SharedKind::Callers, Some(u.value.clone())),
    };
    let shared = match &canonical {
        Some(v) => shared_controls::withdraw_block(&s, kind, v).await.map_err(|e| store_unreachable(&e))?,
        None => None,
    };
    let local = match u.kind {
        BlockKind::Ip => s.controls.unblock_client(&u.value),
        BlockKind::Caller => s.controls.unblock_caller(&u.value).map(|()| u.value),
    };
    // Removed from the shared list though this replica had not pulled it yet: done.
    let value = match (local, shared, canonical) {
        (Ok(v), ..) => v,
        (Err(_), Some(true), Some(v)) => v,
        (Err(e), ..) => return Err(AdminError::not_found(e.to_string())),
    };
    audit(&s, &a, "unblock", value.clone());
    Ok(Json(json!({"unblocked": value})))
}

fn store_unreachable(e: &crate::traffic::redis_store::StoreError) -> AdminError {
    AdminError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the shared state ([state]) cannot be reached, so no replica changed: {e}"),
    )
}

fn known_caller(s: &AppState, caller: &str) -> Result<(), AdminError> {
    if s.config.tokens.iter().any(|t| t.caller == caller) {
        Ok(())
    } else {
        Err(AdminError::not_found(format!("no token has the caller label `{}`", crate::public::shown(caller))))
    }
}

fn known_target(s: &AppState, name: &str) -> Result<(), AdminError> {
    if s.config.targets.iter().any(|t| t.name() == name) {
        Ok(())
    } else {
        Err(AdminError::not_found(format!("target `{}` is not configured", crate::public::shown(name))))
    }
}

/// `POST <admin>/api/targets/{name}/disable {"reason": …}`: its requests get a 503 with
/// the reason (or go to its fallback).
pub async fn disable_target(
    State(s): State<Arc<AppState>>,
    a: Authorized,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Answer {
    known_target(&s, &name)?;
    let d: Disable = if bytes.is_empty() { Disable::default() } else { body(&bytes)? };
    let reason = match text(d.reason) {
        r if r.is_empty() => "disabled by an operator".to_string(),
        r => r,
    };
    let before = s.controls.disabled(&name);
    s.controls.disable(&name, &reason);
    if let Err(e) = shared_controls::publish_disabled(&s, &name).await {
        match before {
            Some(d) => s.controls.replace_disabled(&name, d),
            None => {
                s.controls.enable(&name);
            }
        }
        return Err(store_unreachable(&e));
    }
    audit(&s, &a, "disable_target", format!("{name}: {reason}"));
    Ok(Json(json!({"disabled": name, "reason": reason})))
}

pub async fn enable_target(State(s): State<Arc<AppState>>, a: Authorized, Path(name): Path<String>) -> Answer {
    known_target(&s, &name)?;
    let shared = shared_controls::withdraw_disabled(&s, &name).await.map_err(|e| store_unreachable(&e))?;
    let was_disabled = s.controls.enable(&name) || shared == Some(true);
    audit(&s, &a, "enable_target", name.clone());
    Ok(Json(json!({"enabled": name, "was_disabled": was_disabled})))
}

/// `PUT <admin>/api/fallbacks/{name} {"target": …}`: while `name` is disabled or
/// refuses for overload, its requests go to `target` (one hop; the caller must be allowed
/// to use it).
pub async fn set_fallback(
    State(s): State<Arc<AppState>>,
    a: Authorized,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Answer {
    let f: Fallback = body(&bytes)?;
    known_target(&s, &name)?;
    known_target(&s, &f.target)?;
    if f.target == name {
        return Err(AdminError::invalid("a target cannot be its own fallback"));
    }
    let before = s.controls.fallback(&name);
    s.controls.set_fallback(&name, &f.target);
    if let Err(e) = shared_controls::publish_fallback(&s, &name).await {
        match before {
            Some(old) => s.controls.set_fallback(&name, &old),
            None => {
                s.controls.clear_fallback(&name);
            }
        }
        return Err(store_unreachable(&e));
    }
    audit(&s, &a, "set_fallback", format!("{name} -> {}", f.target));
    Ok(Json(json!({"target": name, "fallback": f.target})))
}

pub async fn clear_fallback(State(s): State<Arc<AppState>>, a: Authorized, Path(name): Path<String>) -> Answer {
    let shared = shared_controls::withdraw_fallback(&s, &name).await.map_err(|e| store_unreachable(&e))?;
    if !s.controls.clear_fallback(&name) && shared != Some(true) {
        return Err(AdminError::not_found(format!("target `{}` has no fallback", crate::public::shown(&name))));
    }
    audit(&s, &a, "clear_fallback", name.clone());
    Ok(Json(json!({"target": name, "fallback": null})))
}

/// `PUT <admin>/api/limits {"max_concurrent_requests": n|null, "rate_limit": {…}}`; either
/// key may be left out. Running requests keep their places.
pub async fn set_limits(State(s): State<Arc<AppState>>, a: Authorized, bytes: Bytes) -> Answer {
    let change: LimitsChange = body(&bytes)?;
    if change.max_concurrent_requests == Some(Some(0)) {
        return Err(AdminError::invalid("max_concurrent_requests is a positive integer or null"));
    }
    let rate = match change.rate_limit {
        Some(r) if r.requests_per_minute == 0 || r.burst == 0 => {
            return Err(AdminError::invalid("rate_limit.requests_per_minute and burst are at least 1"));
        }
        Some(r) => {
            Some(RateLimitConfig { enabled: r.enabled, requests_per_minute: r.requests_per_minute, burst: r.burst })
        }
        None => None,
    };
    if let Some(limit) = change.max_concurrent_requests {
        s.admission.set_limit(limit);
        let shown = limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        audit(&s, &a, "set_admission_limit", shown);
    }
    if let Some(r) = rate {
        let detail = format!("enabled={} requests_per_minute={} burst={}", r.enabled, r.requests_per_minute, r.burst);
        s.set_rate_limit(r);
        audit(&s, &a, "set_rate_limit", detail);
    }
    Ok(Json(json!({
        "max_concurrent_requests": s.admission.limit(),
        "rate_limit": RateLimitView::from(&s.rate_limit_config()),
    })))
}
