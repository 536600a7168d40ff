//! The two routers, separate from `main` so tests drive them with `oneshot`.
//! Layer order (outermost first): CORS (only with `allowed_origins`), the head limits
//! (`edges`), then the routes, with a JSON 404 for any other path; body size is enforced
//! by the handlers so a 413 has the profile's JSON shape.

use crate::state::AppState;
use crate::{admin, edges, management, openai_routes, public, sipp_routes};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Inference routes (`[routes] query/chat/embed`, and the OpenAI-compatible ones).
pub fn public_app(state: Arc<AppState>) -> Router {
    let r = &state.config.routes;
    let mut router: Router<Arc<AppState>> = Router::new()
        .route(&r.query, post(sipp_routes::query))
        .route(&r.chat, post(sipp_routes::chat))
        .route(&r.embed, post(sipp_routes::embed));
    if let Some([chat, completions, embeddings, models]) = r.openai_routes() {
        router = router
            .route(&chat, post(openai_routes::chat_completions))
            .route(&completions, post(openai_routes::completions))
            .route(&embeddings, post(openai_routes::embeddings))
            .route(&models, get(openai_routes::models))
            .route(&format!("{models}/{{id}}"), get(openai_routes::model));
    }
    let mut router = router
        .fallback(edges::not_found)
        .layer(axum::middleware::from_fn_with_state(state.config.limits.clone(), edges::head_limits));
    let origins: Vec<HeaderValue> =
        state.config.allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if !origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                    HeaderName::from_static(public::REQUEST_ID),
                ])
                .expose_headers([
                    HeaderName::from_static(public::REQUEST_ID),
                    HeaderName::from_static(public::SERVED_BY),
                    HeaderName::from_static(public::FALLBACK_FROM),
                ]),
        );
    }
    router.with_state(state)
}

/// Probes, metrics and the Admin Dashboard (`[routes] index/health/readiness/metrics/
/// admin`). No CORS layer: another origin can neither read the probes nor the dashboard.
pub fn management_app(state: Arc<AppState>) -> Router {
    let r = &state.config.routes;
    Router::new()
        .route(&r.index, get(management::index))
        .route(&r.health, get(management::health))
        .route(&r.readiness, get(management::readiness))
        .route(&r.metrics, get(management::metrics))
        .merge(admin::router(&r.admin))
        .fallback(edges::not_found)
        .layer(axum::middleware::from_fn_with_state(state.config.limits.clone(), edges::head_limits))
        .with_state(state)
}
