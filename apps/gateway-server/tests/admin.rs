//! The Admin Dashboard's API and assets driven with `oneshot` on the management router:
//! login (right, wrong, throttled), logout, expiry, revocation, CSRF and origin checks,
//! security headers and no CORS, every change and its effect on the public listener, and
//! that no answer ever carries the password, a bearer token or a provider key.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sipp_gateway_server::app::{management_app, public_app};
use sipp_gateway_server::serve::{load_targets, prepare, Prepared};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

mod common;
use common::*;

const PASSWORD: &str = "admin-secret";
const SECRETS: [&str; 4] = [PASSWORD, TOKEN_A, TOKEN_B, "upstream-key-000"];

/// A logged-in dashboard: its cookie and CSRF token.
struct Admin {
    cookie: String,
    csrf: String,
}

async fn login(m: &Router) -> Admin {
    let (status, headers, body) = call(m, login_request(PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let set = headers["set-cookie"].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let v: Value = serde_json::from_slice(&body).unwrap();
    Admin { cookie, csrf: v["csrf_token"].as_str().unwrap().to_string() }
}

fn login_request(password: &str) -> Request<Body> {
    Request::post("/admin/api/session")
        .header("content-type", "application/json")
        .body(Body::from(json!({"password": password}).to_string()))
        .unwrap()
}

/// An API call as the dashboard makes it (`csrf` only where given).
fn api(method: &str, path: &str, admin: Option<&Admin>, csrf: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(format!("/admin/api{path}"));
    if let Some(a) = admin {
        r = r.header("cookie", &a.cookie);
    }
    if let Some(t) = csrf {
        r = r.header("x-sipp-admin-csrf", t);
    }
    match body {
        Some(b) => r.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => r.body(Body::empty()).unwrap(),
    }
}

/// A change with the session's token.
fn change(method: &str, path: &str, admin: &Admin, body: Option<Value>) -> Request<Body> {
    api(method, path, Some(admin), Some(&admin.csrf), body)
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)))
}

fn code(body: &[u8]) -> String {
    json_of(body)["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn no_secrets(what: &str, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

async fn loaded_with(lookup: impl Fn(&str) -> Option<String>) -> (Router, Router, Prepared) {
    let upstream = mock_upstream().await;
    let mut prepared = prepare(config(&upstream, None), &lookup).unwrap();
    load_targets(&prepared.state, std::mem::take(&mut prepared.descriptors)).await.unwrap();
    (public_app(Arc::clone(&prepared.state)), management_app(Arc::clone(&prepared.state)), prepared)
}

async fn chat_status(public: &Router, token: &str, target: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    call(public, post_json("/v1/chat", Some(token), &chat_body(target, false))).await
}

#[tokio::test]
async fn login_right_wrong_and_throttled() {
    let (_, m, _p) = loaded(None).await;
    let (status, headers, body) = call(&m, login_request(PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers["set-cookie"].to_str().unwrap();
    for part in ["sipp_admin=", "HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let v = json_of(&body);
    assert!(v["csrf_token"].as_str().unwrap().len() >= 40 && v["session"]["id"].is_string(), "{v}");
    assert!(!cookie.contains(v["csrf_token"].as_str().unwrap()), "the CSRF token is not the cookie");
    no_secrets("login", &body);

    for _ in 0..5 {
        let (status, headers, body) = call(&m, login_request("guess")).await;
        assert_eq!((status, code(&body).as_str()), (StatusCode::UNAUTHORIZED, "authentication"));
        assert!(headers.get("set-cookie").is_none());
        no_secrets("wrong login", &body);
    }
    // Throttled now, even with the right password, and told how long to wait.
    let (status, headers, body) = call(&m, login_request(PASSWORD)).await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::TOO_MANY_REQUESTS, "overloaded"));
    assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 60);
    let (status, _, _) = call(&m, api("POST", "/session", None, None, Some(json!({"pw": "x"})))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a malformed login is a 400");
}

#[tokio::test]
async fn sessions_need_a_cookie_expire_and_log_out() {
    let (_, m, p) = loaded(None).await;
    for request in [
        api("GET", "/overview", None, None, None),
        api("GET", "/metrics", None, None, None),
        api("GET", "/session", None, None, None),
        api("POST", "/blocklist", None, None, Some(json!({"kind": "ip", "value": "192.0.2.1"}))),
    ] {
        let (status, _, body) = call(&m, request).await;
        assert_eq!((status, code(&body).as_str()), (StatusCode::UNAUTHORIZED, "authentication"));
    }
    let forged = Admin { cookie: "sipp_admin=forged".into(), csrf: "x".into() };
    assert_eq!(call(&m, api("GET", "/overview", Some(&forged), None, None)).await.0, StatusCode::UNAUTHORIZED);

    let admin = login(&m).await;
    let (status, _, body) = call(&m, api("GET", "/session", Some(&admin), None, None)).await;
    assert_eq!((status, json_of(&body)["csrf_token"].as_str()), (StatusCode::OK, Some(admin.csrf.as_str())));
    // Logout is a change: it needs the token too.
    let (status, _, _) = call(&m, api("DELETE", "/session", Some(&admin), None, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = call(&m, change("DELETE", "/session", &admin, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(call(&m, api("GET", "/session", Some(&admin), None, None)).await.0, StatusCode::UNAUTHORIZED);

    p.state.admin.sessions.set_idle_timeout(Duration::from_millis(50));
    let admin = login(&m).await;
    assert_eq!(call(&m, api("GET", "/session", Some(&admin), None, None)).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(120)).await;
    let (status, _, body) = call(&m, api("GET", "/session", Some(&admin), None, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(String::from_utf8_lossy(&body).contains("expired"));
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_this_origin() {
    let (_, m, _p) = loaded(None).await;
    let admin = login(&m).await;
    let block = || Some(json!({"kind": "ip", "value": "192.0.2.7"}));
    let (status, _, body) = call(&m, api("POST", "/blocklist", Some(&admin), None, block())).await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::FORBIDDEN, "authorization"));
    assert!(String::from_utf8_lossy(&body).contains("missing CSRF token"));
    let (status, _, body) = call(&m, api("POST", "/blocklist", Some(&admin), Some("wrong"), block())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("wrong CSRF token"));
    let mut cross = change("POST", "/blocklist", &admin, block());
    cross.headers_mut().insert("origin", "http://evil.example".parse().unwrap());
    cross.headers_mut().insert("host", "127.0.0.1:9090".parse().unwrap());
    assert_eq!(call(&m, cross).await.0, StatusCode::FORBIDDEN);
    let mut same = change("POST", "/blocklist", &admin, block());
    same.headers_mut().insert("origin", "http://127.0.0.1:9090".parse().unwrap());
    same.headers_mut().insert("host", "127.0.0.1:9090".parse().unwrap());
    assert_eq!(call(&m, same).await.0, StatusCode::OK);
    // Another session's token does not do.
    let other = login(&m).await;
    let (status, _, _) = call(&m, api("POST", "/blocklist", Some(&admin), Some(&other.csrf), block())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_are_listed_and_revocable() {
    let (_, m, _p) = loaded(None).await;
    let admin = login(&m).await;
    let other = login(&m).await;
    let (_, _, body) = call(&m, api("GET", "/sessions", Some(&admin), None, None)).await;
    let v = json_of(&body);
    let ids: Vec<String> = v["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().into()).collect();
    assert_eq!(ids.len(), 2);
    no_secrets("sessions", &body);
    assert!(!String::from_utf8_lossy(&body).contains(other.cookie.trim_start_matches("sipp_admin=")));
    let current = v["current"].as_str().unwrap().to_string();
    let victim = ids.iter().find(|id| **id != current).unwrap();
    assert_eq!(call(&m, change("DELETE", &format!("/sessions/{victim}"), &admin, None)).await.0, StatusCode::OK);
    assert_eq!(call(&m, api("GET", "/overview", Some(&other), None, None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&m, change("DELETE", "/sessions/nope", &admin, None)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blocking_a_caller_or_an_address_refuses_its_public_requests() {
    let (public, m, _p) = loaded(None).await;
    let admin = login(&m).await;
    let block = |kind: &str, value: &str| json!({"kind": kind, "value": value, "reason": "abuse\u{7}"});
    assert_eq!(call(&m, change("POST", "/blocklist", &admin, Some(block("caller", "app-a")))).await.0, StatusCode::OK);
    let (status, _, body) = chat_status(&public, TOKEN_A, "mock").await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::FORBIDDEN, "authorization"));
    assert!(String::from_utf8_lossy(&body).contains("caller `app-a` is blocked"), "{}", String::from_utf8_lossy(&body));
    assert_eq!(chat_status(&public, TOKEN_B, "other").await.0, StatusCode::OK, "other callers are not");
    let (_, _, body) = call(&m, api("GET", "/blocklist", Some(&admin), None, None)).await;
    let entry = &json_of(&body)["entries"][0];
    assert_eq!(
        (entry["value"].as_str(), entry["hits"].as_u64(), entry["reason"].as_str()),
        (Some("app-a"), Some(1), Some("abuse"))
    );
    let (_, _, body) = call(&m, api("GET", "/overview", Some(&admin), None, None)).await;
    assert_eq!(json_of(&body)["tokens"][0]["blocked"], true);
    let unblock = |kind: &str, value: &str| json!({"kind": kind, "value": value});
    assert_eq!(
        call(&m, change("DELETE", "/blocklist", &admin, Some(unblock("caller", "app-a")))).await.0,
        StatusCode::OK
    );
    assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::OK);

    // Router tests have no socket: every request comes from 0.0.0.0.
    assert_eq!(call(&m, change("POST", "/blocklist", &admin, Some(block("ip", "0.0.0.0/8")))).await.0, StatusCode::OK);
    let (status, _, body) = call(&public, post_json("/v1/chat", None, &chat_body("mock", false))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "blocked before authentication");
    assert!(String::from_utf8_lossy(&body).contains("this address"));
    let (_, _, metrics) = call(&m, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert!(String::from_utf8_lossy(&metrics).contains("sipp_gateway_rejections_total{reason=\"blocked\"} 2"));
    assert_eq!(
        call(&m, change("DELETE", "/blocklist", &admin, Some(unblock("ip", "0.0.0.0/8")))).await.0,
        StatusCode::OK
    );
    assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::OK);

    for (bad, status) in [
        (block("ip", "not-an-ip"), StatusCode::BAD_REQUEST),
        (block("caller", "nobody"), StatusCode::NOT_FOUND),
        (json!({"kind": "planet", "value": "x"}), StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(call(&m, change("POST", "/blocklist", &admin, Some(bad))).await.0, status);
    }
    assert_eq!(
        call(&m, change("DELETE", "/blocklist", &admin, Some(unblock("ip", "192.0.2.1")))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn disabled_targets_answer_503_and_fallbacks_serve_them() {
    let (public, m, _p) = loaded(None).await;
    let admin = login(&m).await;
    let disable = change("POST", "/targets/mock/disable", &admin, Some(json!({"reason": "maintenance"})));
    assert_eq!(call(&m, disable).await.0, StatusCode::OK);
    let (status, headers, body) = chat_status(&public, TOKEN_A, "mock").await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    assert!(String::from_utf8_lossy(&body).contains("maintenance") && headers.get("retry-after").is_none());
    // A caller that may not use the target learns nothing about it.
    assert_eq!(chat_status(&public, TOKEN_B, "mock").await.0, StatusCode::FORBIDDEN);
    // The OpenAI route too.
    let (status, _, _) =
        call(&public, post_json("/v1/chat/completions", Some(TOKEN_A), &chat_body("mock", false))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // A fallback the caller may use serves it, and says so.
    let to = |t: &str| Some(json!({"target": t}));
    assert_eq!(call(&m, change("PUT", "/fallbacks/mock", &admin, to("stall"))).await.0, StatusCode::OK);
    let (status, headers, body) = chat_status(&public, TOKEN_A, "mock").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&headers["x-sipp-target"], &headers["x-sipp-fallback-from"]),
        (&"stall".parse::<axum::http::HeaderValue>().unwrap(), &"mock".parse::<axum::http::HeaderValue>().unwrap())
    );
    assert_eq!(json_of(&body)["model"], "stall");
    // One the caller may not use does not.
    assert_eq!(call(&m, change("PUT", "/fallbacks/mock", &admin, to("other"))).await.0, StatusCode::OK);
    assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::SERVICE_UNAVAILABLE);

    assert_eq!(call(&m, change("POST", "/targets/mock/enable", &admin, None)).await.0, StatusCode::OK);
    let (status, headers, _) = chat_status(&public, TOKEN_A, "mock").await;
    assert_eq!((status, headers["x-sipp-target"].to_str().unwrap()), (StatusCode::OK, "mock"));
    assert!(headers.get("x-sipp-fallback-from").is_none());

    // Overload: the upstream's 429 before any output sends the request to the fallback.
    let (status, _, body) = chat_status(&public, TOKEN_A, "busy").await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "upstream_overloaded"));
    assert_eq!(call(&m, change("PUT", "/fallbacks/busy", &admin, to("mock"))).await.0, StatusCode::OK);
    for stream in [false, true] {
        let (status, headers, body) =
            call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("busy", stream))).await;
        assert_eq!(status, StatusCode::OK, "stream {stream}: {}", String::from_utf8_lossy(&body));
        assert_eq!(headers["x-sipp-fallback-from"].to_str().unwrap(), "busy");
        assert_eq!(headers["x-sipp-target"].to_str().unwrap(), "mock");
    }

    for (path, body, status) in [
        ("/fallbacks/mock", to("mock"), StatusCode::BAD_REQUEST),
        ("/fallbacks/mock", to("nowhere"), StatusCode::NOT_FOUND),
        ("/fallbacks/nowhere", to("mock"), StatusCode::NOT_FOUND),
    ] {
        assert_eq!(call(&m, change("PUT", path, &admin, body)).await.0, status, "{path}");
    }
    assert_eq!(call(&m, change("DELETE", "/fallbacks/busy", &admin, None)).await.0, StatusCode::OK);
    assert_eq!(call(&m, change("DELETE", "/fallbacks/busy", &admin, None)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&m, change("POST", "/targets/nowhere/disable", &admin, None)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admission_and_rate_limits_change_at_once() {
    let (public, m, _p) = loaded(None).await;
    let admin = login(&m).await;
    let limits = |v: Value| change("PUT", "/limits", &admin, Some(v));
    assert_eq!(call(&m, limits(json!({"max_concurrent_requests": 1}))).await.0, StatusCode::OK);
    // A stalled stream holds the one place: the next request is refused.
    let held = public.clone().oneshot(post_json("/v1/chat", Some(TOKEN_A), &chat_body("stall", true))).await.unwrap();
    let (status, _, body) = chat_status(&public, TOKEN_A, "mock").await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::TOO_MANY_REQUESTS, "overloaded"));
    let (_, _, body) = call(&m, api("GET", "/overview", Some(&admin), None, None)).await;
    let v = json_of(&body);
    assert_eq!(
        (v["limits"]["max_concurrent_requests"].as_u64(), v["limits"]["admission_held"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(call(&m, limits(json!({"max_concurrent_requests": null}))).await.0, StatusCode::OK);
    assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::OK);
    drop(held);

    let rate = json!({"rate_limit": {"enabled": true, "requests_per_minute": 1, "burst": 1}});
    assert_eq!(call(&m, limits(rate)).await.0, StatusCode::OK);
    assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::OK);
    let (status, headers, _) = chat_status(&public, TOKEN_A, "mock").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_some());
    let off = json!({"rate_limit": {"enabled": false, "requests_per_minute": 60, "burst": 60}});
    assert_eq!(call(&m, limits(off)).await.0, StatusCode::OK);
    assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::OK);

    for bad in [
        json!({"max_concurrent_requests": 0}),
        json!({"max_concurrent_requests": "many"}),
        json!({"rate_limit": {"enabled": true, "requests_per_minute": 0, "burst": 1}}),
        json!({"rate_limit": {"enabled": true}}),
        json!({"surprise": 1}),
    ] {
        assert_eq!(call(&m, limits(bad.clone())).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn overview_metrics_requests_and_audit_show_no_secret() {
    let (public, m, p) = loaded(None).await;
    let admin = login(&m).await;
    for _ in 0..3 {
        assert_eq!(chat_status(&public, TOKEN_A, "mock").await.0, StatusCode::OK);
    }
    assert_eq!(chat_status(&public, TOKEN_A, "fail").await.0.as_u16(), 502);
    let stream = call(&public, post_json("/v1/chat", Some(TOKEN_A), &chat_body("mock", true))).await;
    assert_eq!(stream.0, StatusCode::OK);
    call(&public, post_json("/v1/chat", Some("wrong-token-00"), &chat_body("mock", false))).await;
    p.state.sample_activity();
    call(&m, change("POST", "/targets/other/disable", &admin, None)).await;

    let (_, _, body) = call(&m, api("GET", "/overview", Some(&admin), None, None)).await;
    no_secrets("overview", &body);
    let v = json_of(&body);
    let mock = v["targets"].as_array().unwrap().iter().find(|t| t["name"] == "mock").unwrap();
    assert_eq!(
        (mock["type"].as_str(), mock["model"].as_str(), mock["loaded"].as_bool()),
        (Some("openai_compatible"), Some("served"), Some(true))
    );
    assert_eq!(mock["key_env"], "UPSTREAM_TOKEN", "the variable's name, never its value");
    let other = v["targets"].as_array().unwrap().iter().find(|t| t["name"] == "other").unwrap();
    assert_eq!(
        (other["ready"].as_bool(), other["disabled"]["reason"].as_str()),
        (Some(false), Some("disabled by an operator"))
    );
    assert_eq!(v["tokens"][0]["caller"], "app-a");
    assert_eq!(v["management_routes"]["admin"], "/admin");

    let (_, _, body) = call(&m, api("GET", "/metrics", Some(&admin), None, None)).await;
    no_secrets("metrics", &body);
    let v = json_of(&body);
    let sample = &v["samples"][0];
    assert_eq!((sample["requests"].as_u64(), sample["errors"].as_u64()), (Some(6), Some(2)), "{sample}");
    assert_eq!(sample["by_target"]["mock"]["requests"], 4);
    assert_eq!(sample["by_caller"]["app-a"]["requests"], 5);
    assert_eq!(sample["output_tokens"], 8);
    assert!(sample["latency_p99_ms"].as_f64().unwrap() > 0.0 && sample["ttft_p50_ms"].as_f64().is_some(), "{sample}");
    assert_eq!(sample["rejections"]["unauthenticated"], 1);
    assert_eq!(v["totals"]["requests"], 6);
    let since = sample["at"].as_u64().unwrap();
    let (_, _, body) = call(&m, api("GET", &format!("/metrics?since={since}"), Some(&admin), None, None)).await;
    assert_eq!(json_of(&body)["samples"].as_array().unwrap().len(), 0);

    let (_, _, body) = call(&m, api("GET", "/requests?limit=10", Some(&admin), None, None)).await;
    no_secrets("requests", &body);
    let list = json_of(&body)["requests"].as_array().unwrap().clone();
    assert_eq!(list.len(), 6);
    assert_eq!((list[0]["caller"].as_str(), list[0]["status"].as_u64()), (Some("-"), Some(401)));
    let failed = list.iter().find(|r| r["target"] == "fail").unwrap();
    assert!(failed["error"].is_string() && failed["status"] == 502, "{failed}");
    assert!(!String::from_utf8_lossy(&body).contains("\"Hi\""), "never a prompt");

    let (_, _, body) = call(&m, api("GET", "/audit", Some(&admin), None, None)).await;
    no_secrets("audit", &body);
    let entries = json_of(&body)["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["disable_target", "login"]);
    assert!(entries.iter().all(|e| e["session"].as_str().unwrap().len() == 12));
}

#[tokio::test]
async fn every_admin_answer_has_the_security_headers_and_no_cors() {
    let (_, m, _p) = loaded(None).await;
    let (status, headers, _) = call(&m, Request::get("/admin").body(Body::empty()).unwrap()).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::PERMANENT_REDIRECT, "/admin/"));
    let admin = login(&m).await;
    for request in [
        Request::get("/admin/").body(Body::empty()).unwrap(),
        Request::get("/admin/nope").body(Body::empty()).unwrap(),
        api("GET", "/overview", None, None, None),
        api("GET", "/overview", Some(&admin), None, None),
        api("GET", "/no-such-call", Some(&admin), None, None),
    ] {
        let path = request.uri().to_string();
        let (_, headers, _) = call(&m, request).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert!(headers.get("access-control-allow-origin").is_none(), "{path}");
    }
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/admin/api/blocklist")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(&m, preflight).await;
    assert!(headers.get("access-control-allow-origin").is_none() && !status.is_success(), "{status}");
}

#[tokio::test]
async fn assets_come_from_the_configured_dir_or_the_page_says_what_to_build() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>Sipp</title>").unwrap();
    std::fs::write(dir.path().join("assets/app-1234.js"), "console.log(1)").unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let (_, m, p) =
        loaded_with(move |name| if name == "SIPP_GATEWAY_ADMIN_ASSETS_DIR" { Some(root.clone()) } else { env(name) })
            .await;
    assert!(p.state.admin.assets.found);
    let (status, headers, body) = call(&m, Request::get("/admin/").body(Body::empty()).unwrap()).await;
    assert_eq!((status, String::from_utf8(body).unwrap().contains("<title>Sipp")), (StatusCode::OK, true));
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let (status, headers, body) =
        call(&m, Request::get("/admin/assets/app-1234.js").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"console.log(1)".as_slice()));
    assert!(headers["content-type"].to_str().unwrap().contains("javascript"));
    assert!(headers["cache-control"].to_str().unwrap().contains("immutable"));
    for path in ["/admin/assets/missing.js", "/admin/assets/../index.html", "/admin/assets/%2e%2e/index.html"] {
        assert_eq!(call(&m, Request::get(path).body(Body::empty()).unwrap()).await.0, StatusCode::NOT_FOUND, "{path}");
    }

    // Without them: a 503 that says how to get them, and the API still works.
    let (_, m, p) =
        loaded_with(
            |name| if name == "SIPP_GATEWAY_ADMIN_ASSETS_DIR" { Some("/nonexistent/dist".into()) } else { env(name) },
        )
        .await;
    assert!(!p.state.admin.assets.found);
    let (status, _, body) = call(&m, Request::get("/admin/").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        text.contains("/nonexistent/dist")
            && text.contains("cargo xtask build gateway-server")
            && text.contains("SIPP_GATEWAY_ADMIN_ASSETS_DIR"),
        "{text}"
    );
    login(&m).await;
}
