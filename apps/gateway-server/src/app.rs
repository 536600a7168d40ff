//! The two routers, separate from `main` so tests drive them with `oneshot`.
//! Layer order (outermost first): CORS (only with `allowed_origins`), then the routes;
//! body size is enforced by the handlers so a 413 has the profile's JSON shape.

use crate::state::AppState;
use crate::{management, public};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Inference routes (`[routes] query/chat/embed`).
pub fn public_app(state: Arc<AppState>) -> Router {
    let r = &state.config.routes;
    let mut router = Router::new()
        .route(&r.query, post(public::query))
        .route(&r.chat, post(public::chat))
        .route(&r.embed, post(public::embed));
    let origins: Vec<HeaderValue> =
        state.config.allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if !origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::POST, Method::OPTIONS])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                    HeaderName::from_static(public::REQUEST_ID),
                ])
                .expose_headers([HeaderName::from_static(public::REQUEST_ID)]),
        );
    }
    router.with_state(state)
}

/// Probes and metrics (`[routes] index/health/readiness/metrics`).
pub fn management_app(state: Arc<AppState>) -> Router {
    let r = &state.config.routes;
    Router::new()
        .route(&r.index, get(management::index))
        .route(&r.health, get(management::health))
        .route(&r.readiness, get(management::readiness))
        .route(&r.metrics, get(management::metrics))
        .with_state(state)
}
