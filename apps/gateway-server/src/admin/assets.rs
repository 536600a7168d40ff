//! The dashboard's built files (the Vite `dist` of `apps/gateway-server/admin-ui`): from
//! `admin-ui/` beside the executable, or `SIPP_GATEWAY_ADMIN_ASSETS_DIR`. Found or not is
//! decided at startup and said in the log; without them the dashboard's page explains
//! what to build instead of a 404, and the API still answers.

use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeDir;

pub const ASSETS_ENV: &str = "SIPP_GATEWAY_ADMIN_ASSETS_DIR";

#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Where the files are looked for.
    pub dir: PathBuf,
    /// Whether `dir/index.html` existed at startup.
    pub found: bool,
}

impl Assets {
    /// `SIPP_GATEWAY_ADMIN_ASSETS_DIR` through `lookup`, else `admin-ui` beside the binary.
    pub fn locate(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let dir = lookup(ASSETS_ENV).filter(|v| !v.trim().is_empty()).map_or_else(
            || {
                std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(FsPath::to_path_buf))
                    .unwrap_or_default()
                    .join("admin-ui")
            },
            PathBuf::from,
        );
        Self::at(dir)
    }

    pub fn at(dir: PathBuf) -> Self {
        let found = dir.join("index.html").is_file();
        Self { dir, found }
    }

    /// What the startup log says when the files are missing.
    pub fn missing_message(&self) -> String {
        format!(
            "the Admin Dashboard's assets are not at {}: build them with `cargo xtask build gateway-server` \
             (stages the binary with admin-ui/ beside it), or set {ASSETS_ENV} to a Vite dist directory; \
             the admin API still answers",
            self.dir.display()
        )
    }
}

/// `[routes] admin` without the slash: the app's relative paths need it.
pub async fn to_slash(State(s): State<Arc<AppState>>) -> Response {
    let to = format!("{}/", s.config.routes.admin);
    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// The app's page, never cached (it names the current hashed bundles).
pub async fn index(State(s): State<Arc<AppState>>) -> Response {
    let assets = &s.admin.assets;
    match tokio::fs::read(assets.dir.join("index.html")).await {
        Ok(html) => {
            let mut r = html.into_response();
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, assets.missing_message()).into_response();
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            r
        }
    }
}

/// A hashed bundle file: cached for good (a new build has new names).
pub async fn file(State(s): State<Arc<AppState>>, Path(file): Path<String>, request: Request) -> Response {
    let Ok(uri) = format!("/{}", file.trim_start_matches('/')).parse::<Uri>() else {
        return super::guard::not_found().await.into_response();
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = uri;
    let served = ServeDir::new(s.admin.assets.dir.join("assets"))
        .oneshot(Request::from_parts(parts, body))
        .await
        .map(IntoResponse::into_response);
    match served {
        Ok(mut r) if r.status().is_success() => {
            r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
            r
        }
        Ok(r) if r.status() == StatusCode::NOT_MODIFIED => r,
        _ => super::guard::not_found().await.into_response(),
    }
}
