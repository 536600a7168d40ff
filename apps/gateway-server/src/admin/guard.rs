//! The dashboard's door: security headers on every answer, and `Authorized`, the extractor
//! every API handler but login takes. Without a live session an API call is a 401; a
//! change (any method but GET/HEAD) also needs the session's CSRF token in
//! `x-sipp-admin-csrf` and, when the browser says where it comes from, this origin:
//! otherwise a 403. Admin routes never answer CORS, so another origin cannot read them.

use super::session::{csrf_matches, Session};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, HOST, ORIGIN, REFERRER_POLICY, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sipp_gateway::GatewayHttpError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub const CSRF_HEADER: &str = "x-sipp-admin-csrf";
pub const COOKIE_NAME: &str = "sipp_admin";

/// Scripts and styles only from the dashboard's own files: no inline script can run, even
/// if something rendered one.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers every admin answer carries; API answers are never cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let api = request.uri().path().contains("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    h.insert(HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin"));
    if api || !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A refused admin call in the spec's error shape.
#[derive(Debug)]
pub struct AdminError(pub GatewayHttpError);

impl AdminError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(GatewayHttpError::new(status, code, message))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut r = crate::public::json(self.0.status, self.0.body());
        if let Some(secs) = self.0.retry_after_secs {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

/// A request from a logged-in dashboard (and, for changes, with its CSRF token).
#[derive(Debug, Clone)]
pub struct Authorized {
    pub session: Session,
    /// The cookie's secret, for logout.
    pub secret: String,
}

impl FromRequestParts<Arc<AppState>> for Authorized {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let secret = cookie(&parts.headers).ok_or_else(|| {
            AdminError::new(StatusCode::UNAUTHORIZED, "authentication", "log in first: no admin session")
        })?;
        let session = s.admin.sessions.touch(&secret).ok_or_else(|| {
            AdminError::new(StatusCode::UNAUTHORIZED, "authentication", "the admin session expired or was revoked")
        })?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            if !same_origin(&parts.headers) {
                return Err(AdminError::new(StatusCode::FORBIDDEN, "authorization", "cross-origin admin request"));
            }
            let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !csrf_matches(&session, given) {
                let why = if given.is_some() { "wrong" } else { "missing" };
                return Err(AdminError::new(
                    StatusCode::FORBIDDEN,
                    "authorization",
                    format!("{why} CSRF token: send the session's token in {CSRF_HEADER}"),
                ));
            }
        }
        Ok(Self { session, secret })
    }
}

/// The session cookie's value, if the request has one.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session: HTTP-only (no script reads it), `SameSite=Strict` (no
/// other site's page sends it), scoped to the dashboard's path, gone when the browser closes.
pub fn session_cookie(prefix: &str, secret: &str) -> HeaderValue {
    let value = format!("{COOKIE_NAME}={secret}; Path={prefix}; HttpOnly; SameSite=Strict");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("sipp_admin=; Max-Age=0"))
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie(prefix: &str) -> HeaderValue {
    let value = format!("{COOKIE_NAME}=; Path={prefix}; HttpOnly; SameSite=Strict; Max-Age=0");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("sipp_admin=; Max-Age=0"))
}

/// No `Origin`, or one whose host is this request's `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| !host.is_empty() && rest.eq_ignore_ascii_case(host))
}

/// The client as the public listener would resolve it (trusted proxies only).
pub fn client(s: &AppState, parts: &Parts) -> IpAddr {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    s.client_ip.resolve(peer, &parts.headers)
}

/// Any other path under the dashboard.
pub async fn not_found() -> AdminError {
    AdminError::not_found("no such admin route")
}
