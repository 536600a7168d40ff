//! Answers made outside the route handlers, in the same error JSON as theirs: an
//! unknown path (404), a wrong method (405, axum's `Allow` kept), a request target or header block over
//! `[limits]` (414, 431). hyper refuses what it cannot parse at all (a broken request
//! line) with a bare 400 before any of this runs.

use crate::limits::LimitsConfig;
use crate::public::{error_response, Dialect};
use axum::extract::{Request, State};
use axum::http::header::ALLOW;
use axum::middleware::Next;
use axum::response::Response;
use sipp_gateway::{GatewayHttpError, StatusCode};

/// 404 for a path no route serves.
pub async fn not_found(request: Request) -> Response {
    let path = crate::public::shown(request.uri().path());
    error(&GatewayHttpError::new(StatusCode::NOT_FOUND, "not_found", format!("no route at `{path}`")))
}

/// Refuse a request target or header block over `[limits]` before any handler runs.
pub async fn head_limits(State(limits): State<LimitsConfig>, request: Request, next: Next) -> Response {
    let uri = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > limits.max_uri_bytes {
        let max = limits.max_uri_bytes;
        return error(&GatewayHttpError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {uri} bytes; limits.max_uri_bytes is {max}"),
        ));
    }
    // As on the wire: `name: value\r\n` per header.
    let head: usize = request.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if head > limits.max_header_bytes {
        let max = limits.max_header_bytes;
        return error(&GatewayHttpError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request headers are {head} bytes; limits.max_header_bytes is {max}"),
        ));
    }
    let mut response = next.run(request).await;
    // axum's own 405 carries `Allow` but an empty body: give it ours, keeping `Allow`.
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !is_json(&response) {
        let allow = response.headers().get(ALLOW).cloned();
        response = error(&GatewayHttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not serve that method",
        ));
        if let Some(allow) = allow {
            response.headers_mut().insert(ALLOW, allow);
        }
    }
    response
}

/// The handlers' own answer builder, in the first-party error body.
fn error(e: &GatewayHttpError) -> Response {
    error_response(Dialect::Sipp, e)
}

fn is_json(response: &Response) -> bool {
    response.headers().get(axum::http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json")
}
