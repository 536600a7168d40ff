//! The Admin Dashboard, served only on the management listener under `[routes] admin`:
//! the React app's built assets (`assets`) and session-protected JSON under `api/`
//! (`guard` checks sessions and CSRF tokens and sets the security headers; `views` are
//! the reads, `actions` the changes; `session` and `audit` hold their state). Everything
//! here is process-local and resets on restart.

pub mod actions;
pub mod answers;
pub mod assets;
pub mod audit;
pub mod guard;
pub mod session;
pub mod views;

use crate::state::AppState;
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::sync::Arc;

/// What the dashboard keeps: the password (read at `serve`), sessions, the audit list and
/// where its assets are.
#[derive(Debug, Default)]
pub struct AdminState {
    pub password: Option<sipp::Secret>,
    pub sessions: session::Sessions,
    pub audit: audit::Audit,
    pub assets: assets::Assets,
}

/// The dashboard's routes under `prefix` (`[routes] admin`). `prefix` itself redirects to
/// `prefix/`, so the app's relative asset and API paths resolve under it whatever the
/// route is. Layer order (outermost first): the security headers, then the routes; each
/// API handler takes `guard::Authorized` (session, then CSRF on changes) except login.
pub fn router(prefix: &str) -> Router<Arc<AppState>> {
    let api = |path: &str| format!("{prefix}/api{path}");
    Router::new()
        .route(prefix, get(assets::to_slash))
        .route(&format!("{prefix}/"), get(assets::index))
        .route(&format!("{prefix}/assets/{{*file}}"), get(assets::file))
        .route(&api("/session"), post(actions::login).get(views::session).delete(actions::logout))
        .route(&api("/overview"), get(views::overview))
        .route(&api("/metrics"), get(views::metrics))
        .route(&api("/requests"), get(views::requests))
        .route(&api("/sessions"), get(views::sessions))
        .route(&api("/sessions/{id}"), delete(actions::revoke_session))
        .route(&api("/audit"), get(views::audit))
        .route(&api("/blocklist"), get(views::blocklist).post(actions::block).delete(actions::unblock))
        .route(&api("/targets/{name}/disable"), post(actions::disable_target))
        .route(&api("/targets/{name}/enable"), post(actions::enable_target))
        .route(&api("/fallbacks/{name}"), put(actions::set_fallback).delete(actions::clear_fallback))
        .route(&api("/limits"), put(actions::set_limits))
        .route(&format!("{prefix}/{{*rest}}"), axum::routing::any(guard::not_found))
        .layer(axum::middleware::from_fn(guard::security_headers))
}
