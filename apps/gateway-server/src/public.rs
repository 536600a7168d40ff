//! The flow every public route shares, whatever its wire profile: the blocklist, rate
//! limit, authentication, the body within `max_request_bytes`, then the route's own
//! decode, the routing (`routing`: disabled targets, fallbacks, traffic limits) and the
//! pipeline call (`sipp_routes`, `openai_routes`), then one answer: JSON, or a stream
//! that owns the run, its admission permit and its traffic reservation. Every answer carries the request id (and the target that
//! served it); every failure is the route's profile error body, counted and logged once.

use crate::activity::{RequestRecord, UNKNOWN};
use crate::controls::Blocked;
use crate::pool::balancer::MemberGuard;
use crate::state::AppState;
use crate::traffic::Reservation;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, StreamExt};
use sipp::gateway_core::{AdmissionPermit, GatewayRequestContext, GatewayTextRun};
use sipp::{SippTextResponse, SippTextRun};
use sipp_gateway::{
    Authenticator, ErrorTranslator, GatewayHttpError, OpenAiCodec, SippErrorTranslator, StatusCode, StreamEncoder,
    SSE_CONTENT_TYPE,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub const REQUEST_ID: &str = "x-request-id";
/// The target that served the request (a fallback's name when one did).
pub const SERVED_BY: &str = "x-sipp-target";
/// Set when a fallback served: the target the request asked for.
pub const FALLBACK_FROM: &str = "x-sipp-fallback-from";
/// Set when a pool's member served (`x-sipp-target` names the member).
pub const POOL: &str = "x-sipp-pool";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Query,
    Chat,
    Embed,
    Models,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Chat => "chat",
            Self::Embed => "embed",
            Self::Models => "models",
        }
    }
}

/// One public POST handler: `admit`, the route's own `$run`, then `respond`.
#[macro_export]
macro_rules! handler {
    ($name:ident, $op:expr, $dialect:expr, $run:path) => {
        pub async fn $name(
            axum::extract::State(s): axum::extract::State<std::sync::Arc<$crate::state::AppState>>,
            parts: axum::http::request::Parts,
            body: axum::body::Body,
        ) -> axum::response::Response {
            let mut ctx = $crate::public::Ctx::new($op, $dialect, &parts);
            let outcome = match $crate::public::admit(&s, &mut ctx, &parts, Some(body)).await {
                Ok((context, bytes)) => $run(&s, &mut ctx, &context, &bytes).await,
                Err(e) => Err(e),
            };
            $crate::public::respond(&s, &ctx, outcome)
        }
    };
}

/// Which error body and stream dialect a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sipp,
    OpenAi,
}

impl Dialect {
    fn error_body(self, e: &GatewayHttpError) -> Vec<u8> {
        match self {
            Self::Sipp => e.body(),
            Self::OpenAi => OpenAiCodec.encode_error(e),
        }
    }
}

/// Per-request facts for the one log line and the metrics.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub id: String,
    op: Operation,
    dialect: Dialect,
    started: Instant,
    caller: Option<String>,
    pub target: Option<String>,
    /// The configured target that runs the request, once routed.
    pub(crate) served: Option<String>,
    pub(crate) fallback_from: Option<String>,
    /// The pool whose member served, if one did.
    pub(crate) pool: Option<String>,
    /// Submit to first token: measured here for streams, the engine's for local JSON answers.
    ttft_ms: Option<f64>,
    /// What the traffic limits left after this request's admission (`x-ratelimit-*`).
    ratelimit: Vec<crate::traffic::verdict::Remaining>,
}

impl Ctx {
    pub fn op(&self) -> Operation {
        self.op
    }

    pub fn new(op: Operation, dialect: Dialect, parts: &Parts) -> Self {
        Self {
            id: request_id(&parts.headers),
            op,
            dialect,
            started: Instant::now(),
            caller: None,
            target: None,
            served: None,
            fallback_from: None,
            pool: None,
            ttft_ms: None,
            ratelimit: Vec::new(),
        }
    }

    /// What the traffic limits left after this request's admission.
    pub fn limited(&mut self, remaining: &[crate::traffic::verdict::Remaining]) {
        self.ratelimit = remaining.to_vec();
    }

    pub(crate) fn fall_back(&mut self, from: &str, to: &str) {
        self.fallback_from = Some(from.to_string());
        self.served = Some(to.to_string());
    }
}

/// Everything before a route's own work: the client-IP rate limit, the bearer token and
/// (when `body` is given) the body within `max_request_bytes`.
pub async fn admit(
    s: &AppState,
    ctx: &mut Ctx,
    parts: &Parts,
    body: Option<Body>,
) -> Result<(GatewayRequestContext, Bytes), GatewayHttpError> {
    // Without a socket (router tests) every request shares the unspecified address.
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let client = s.client_ip.resolve(peer, &parts.headers);
    if let Some(b) = s.controls.client_blocked(client) {
        return Err(blocked(s, &b));
    }
    s.rate_limit(client).inspect_err(|_| s.metrics.rejected("rate_limited"))?;
    let caller = s.tokens.authenticate(&parts.headers).inspect_err(|_| s.metrics.rejected("unauthenticated"))?;
    ctx.caller = Some(caller.0.clone());
    if let Some(b) = s.controls.caller_blocked(&caller.0) {
        return Err(blocked(s, &b));
    }
    let context =
        GatewayRequestContext { request_id: ctx.id.clone(), caller: caller.0, cancellation: Arc::clone(&s.shutdown) };
    let Some(body) = body else { return Ok((context, Bytes::new())) };
    let limit = usize::try_from(s.config.max_request_bytes).unwrap_or(usize::MAX);
    let too_large = || {
        s.metrics.rejected("too_large");
        GatewayHttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds max_request_bytes ({limit})"),
        )
    };
    // A declared length over the limit is refused before any byte is read (and before
    // hyper would answer `Expect: 100-continue`, which it does on the first read)...
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let expects_continue =
        parts.headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if declared.is_some_and(|n| n > s.config.max_request_bytes) && (expects_continue || declared > Some(LINGER_BYTES)) {
        return Err(too_large());
    }
    // ... otherwise the client is already writing: read (and drop) what it sends up to
    // [`LINGER_BYTES`], so it gets to read the 413 instead of a reset connection.
    let bytes = match tokio::time::timeout(s.config.limits.body_timeout(), read_body(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(BodyError::TooLarge)) => return Err(too_large()),
        Ok(Err(BodyError::Broken)) => return Err(GatewayHttpError::invalid_request("the request body broke off")),
        Err(_) => {
            s.metrics.rejected("body_timeout");
            let secs = s.config.limits.body_timeout_seconds;
            return Err(GatewayHttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request body did not arrive within limits.body_timeout_seconds ({secs} s)"),
            ));
        }
    };
    Ok((context, bytes))
}

/// The 403 of a blocklist entry (counted as `blocked`).
fn blocked(s: &AppState, b: &Blocked) -> GatewayHttpError {
    s.metrics.rejected("blocked");
    let who = match b {
        Blocked::Client(_) => "requests from this address are".to_string(),
        Blocked::Caller(caller) => format!("caller `{caller}` is"),
    };
    GatewayHttpError::of(sipp::ErrorCode::Authorization, format!("{who} blocked by the gateway's operator"))
}

/// A body over the limit still read (and dropped) up to here before the 413.
const LINGER_BYTES: u64 = 8 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Broken,
}

/// The body within `limit` bytes; past it, the rest is read and dropped up to
/// [`LINGER_BYTES`] before `TooLarge`.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        seen += chunk.len() as u64;
        if seen > LINGER_BYTES {
            return Err(BodyError::TooLarge);
        }
        if seen <= limit as u64 {
            out.extend_from_slice(&chunk);
        } else {
            out = Vec::new();
        }
    }
    if seen > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    Ok(Bytes::from(out))
}

/// The answer: a failure becomes the dialect's error body (counted and logged here); the
/// request id is echoed either way.
pub fn respond(s: &AppState, ctx: &Ctx, outcome: Result<Response, GatewayHttpError>) -> Response {
    let mut response = match outcome {
        Ok(r) => r,
        Err(e) => {
            finish(s, ctx, e.status.as_u16(), Some(&e.code), None);
            error_response(ctx.dialect, &e)
        }
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Some(v) = ctx.served.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(SERVED_BY, v);
    }
    if let Some(v) = ctx.fallback_from.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(FALLBACK_FROM, v);
    }
    if let Some(v) = ctx.pool.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(POOL, v);
    }
    if ctx.dialect == Dialect::OpenAi {
        crate::traffic::headers::insert(headers, &ctx.ratelimit);
    }
    response
}

/// A successful answer without tokens (listings).
pub fn finished(s: &AppState, ctx: &Ctx) {
    finish(s, ctx, 200, None, None);
}

/// A finished embedding: metrics, log line, JSON.
pub fn embedded(s: &AppState, ctx: &Ctx, input_tokens: Option<u32>, body: Vec<u8>) -> Response {
    finish(s, ctx, 200, None, input_tokens.map(|t| (t, 0)));
    json(StatusCode::OK, body)
}

/// What a request still running when the drain bound runs out gets.
fn shutting_down() -> GatewayHttpError {
    GatewayHttpError::of(sipp::ErrorCode::Unavailable, "the gateway is shutting down; retry")
}

/// `work`, unless the server's drain bound runs out first (then a 503).
pub async fn unless_shutdown<T>(
    s: &AppState,
    work: impl std::future::IntoFuture<Output = sipp::Result<T>>,
) -> Result<T, GatewayHttpError> {
    tokio::select! {
        r = work => r.map_err(|e| SippErrorTranslator.translate(&e)),
        () = s.shutdown.cancelled() => Err(shutting_down()),
    }
}

/// A text run answered as one JSON body (`encode`) or, when the request streamed, as a
/// stream of `encoder` frames; `hold` is how long a stream may wait for its first event
/// before its headers go out.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn text_answer(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    running: GatewayTextRun,
    held: &mut Holding,
    stream: bool,
    hold: Option<std::time::Duration>,
    encode: impl FnOnce(&SippTextResponse) -> Result<Vec<u8>, GatewayHttpError>,
    encoder: Box<dyn StreamEncoder>,
) -> Result<Response, GatewayHttpError> {
    let GatewayTextRun { mut run, permit } = running;
    if !stream {
        let _in_flight = s.metrics.in_flight();
        let r = unless_shutdown(s, run.finish()).await?;
        ctx.ttft_ms = r.local_stats.as_ref().map(|l| l.ttft_ms);
        let mut holding = std::mem::take(held);
        holding.ended(None, usage(&r));
        let body = encode(&r)?;
        finish(s, ctx, 200, None, usage(&r));
        drop((permit, holding));
        return Ok(json(StatusCode::OK, body));
    }
    // The run holds an admission slot from here: count it as in flight.
    let in_flight = InFlightOwned::new(s);
    // A run refused at submit (bad options, a full queue) has its error ready: that gets
    // a status. Anything else gets headers at once, and later errors an `error` event: a
    // client must not wait in silence for a slow first token.
    let first = match hold {
        Some(bound) => tokio::time::timeout(bound, run.next()).await.ok(),
        None => run.next().now_or_never(),
    };
    let first = match first {
        Some(Some(Err(e))) => return Err(SippErrorTranslator.translate(&e)),
        Some(first) => Pending::Ready(first),
        None => Pending::Wait,
    };
    let state = Arc::clone(s);
    let held = Held { _permit: permit, holding: std::mem::take(held), _in_flight: in_flight };
    let events = async_stream(state, ctx.clone(), run, first, held, encoder);
    let mut response = Response::new(Body::from_stream(events));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(SSE_CONTENT_TYPE));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The first event of a stream, if it had come when the headers were sent.
enum Pending {
    Ready(Option<sipp::Result<sipp::TokenBatch>>),
    Wait,
}

/// What a request holds while it runs beyond its admission place: its traffic
/// reservation (settled with what it used when dropped) and, in a pool, its member's
/// outstanding count (which also hears how the request ended).
#[derive(Debug, Default)]
pub struct Holding {
    pub reservation: Option<Reservation>,
    pub member: Option<MemberGuard>,
}

impl Holding {
    /// Output seen (a streamed batch of `tokens`).
    fn output(&mut self, tokens: u64) {
        if let Some(r) = self.reservation.as_mut() {
            r.output(tokens);
        }
    }

    /// The run ended: with `error`'s code, or with its reported usage.
    fn ended(&mut self, error: Option<&str>, usage: Option<(u32, u32)>) {
        if let (Some(r), Some((input, output))) = (self.reservation.as_mut(), usage) {
            r.used(input, output);
        }
        if let Some(m) = &self.member {
            match error {
                Some(code) if crate::pool::balancer::BROKEN.contains(&code) => m.failed(),
                Some(_) => {}
                None => m.succeeded(),
            }
        }
    }
}

/// What a stream holds until its last event: its admission place, its [`Holding`] and
/// its in-flight count.
struct Held {
    _permit: AdmissionPermit,
    holding: Holding,
    _in_flight: InFlightOwned,
}

/// The SSE body. It owns the run and what it [`Held`]: when the client goes away, axum
/// drops the body, which drops the run (cancelling the engine sequence or the upstream
/// call), frees the place and settles the reservation. While no event comes, an SSE
/// comment goes out every `limits.stream_keep_alive_seconds` (proxies and clients see a
/// live stream).
fn async_stream(
    s: Arc<AppState>,
    ctx: Ctx,
    run: SippTextRun,
    first: Pending,
    held: Held,
    encoder: Box<dyn StreamEncoder>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    struct Live {
        s: Arc<AppState>,
        ctx: Ctx,
        run: SippTextRun,
        pending: Pending,
        done: bool,
        encoder: Box<dyn StreamEncoder>,
        held: Held,
    }
    let live = Live { s, ctx, run, pending: first, done: false, encoder, held };
    futures_util::stream::unfold(live, |mut l| async move {
        if l.done {
            return None;
        }
        let translate = |e: sipp::SippError| SippErrorTranslator.translate(&e);
        let next = match std::mem::replace(&mut l.pending, Pending::Wait) {
            Pending::Ready(item) => item.map(|r| r.map_err(translate)),
            Pending::Wait => tokio::select! {
                n = l.run.next() => n.map(|r| r.map_err(translate)),
                // The drain bound ran out: say so in-band, then end (dropping the run
                // cancels it).
                () = l.s.shutdown.cancelled() => Some(Err(shutting_down())),
                () = tokio::time::sleep(l.s.config.limits.stream_keep_alive()) => {
                    return Some((Ok(Bytes::from_static(KEEP_ALIVE)), l));
                }
            },
        };
        let frame = match next {
            Some(Ok(batch)) => {
                // A remote batch carries text, not ids: count it as one token.
                l.held.holding.output(batch.token_ids.len().max(1) as u64);
                if l.ctx.ttft_ms.is_none() {
                    l.ctx.ttft_ms = Some(l.ctx.started.elapsed().as_secs_f64() * 1000.0);
                }
                l.encoder.token(&batch)
            }
            Some(Err(e)) => {
                l.done = true;
                l.held.holding.ended(Some(&e.code), None);
                finish(&l.s, &l.ctx, 200, Some(&e.code), None);
                l.encoder.error(&e)
            }
            None => {
                l.done = true;
                match l.run.finish().await {
                    Ok(r) => {
                        l.held.holding.ended(None, usage(&r));
                        finish(&l.s, &l.ctx, 200, None, usage(&r));
                        l.encoder.finish(&r)
                    }
                    Err(e) => {
                        let e = SippErrorTranslator.translate(&e);
                        l.held.holding.ended(Some(&e.code), None);
                        finish(&l.s, &l.ctx, 200, Some(&e.code), None);
                        l.encoder.error(&e)
                    }
                }
            }
        };
        Some((Ok(frame), l))
    })
}

/// An SSE comment: ignored by every client, proof of life for proxies and people.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The in-flight gauge for a stream that outlives its handler.
struct InFlightOwned(Arc<AppState>);

impl InFlightOwned {
    fn new(s: &Arc<AppState>) -> Self {
        s.metrics.enter();
        Self(Arc::clone(s))
    }
}

impl Drop for InFlightOwned {
    fn drop(&mut self) {
        self.0.metrics.leave();
    }
}

fn usage(r: &SippTextResponse) -> Option<(u32, u32)> {
    r.usage.map(|u| (u.input_tokens, u.output_tokens))
}

/// Metrics and the one log line of a request (never its prompt or a credential).
fn finish(s: &AppState, ctx: &Ctx, status: u16, error_code: Option<&str>, tokens: Option<(u32, u32)>) {
    let elapsed = ctx.started.elapsed();
    s.metrics.finished(ctx.op.as_str(), status, error_code, elapsed);
    if let Some((input, output)) = tokens {
        s.metrics.tokens(input, output);
    }
    s.activity.record(RequestRecord {
        id: ctx.id.clone(),
        at: crate::controls::unix_ms(),
        caller: ctx.caller.clone().unwrap_or_else(|| UNKNOWN.to_string()),
        target: ctx.served.clone().unwrap_or_else(|| UNKNOWN.to_string()),
        fallback_from: ctx.fallback_from.clone(),
        operation: ctx.op.as_str(),
        status,
        error: error_code.map(str::to_string),
        input_tokens: tokens.map_or(0, |t| t.0),
        output_tokens: tokens.map_or(0, |t| t.1),
        latency_ms: elapsed.as_secs_f64() * 1000.0,
        ttft_ms: ctx.ttft_ms,
    });
    tracing::info!(
        request_id = %ctx.id,
        caller = ctx.caller.as_deref().unwrap_or("-"),
        target = ctx.target.as_deref().unwrap_or("-"),
        served_by = ctx.served.as_deref().unwrap_or("-"),
        operation = ctx.op.as_str(),
        status,
        error = error_code.unwrap_or("-"),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        input_tokens = tokens.map_or(0, |t| t.0),
        output_tokens = tokens.map_or(0, |t| t.1),
        "request"
    );
}

pub fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn error_response(dialect: Dialect, e: &GatewayHttpError) -> Response {
    let mut r = json(e.status, dialect.error_body(e));
    if let Some(secs) = e.retry_after_secs {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    // RFC 9110: a 401 names the scheme it wants.
    if e.status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sipp-gateway\""));
    }
    r
}

/// A client-supplied string as it may appear in a log line or message: at most 64
/// characters, control characters escaped (a 60 KB `model` must not become a 60 KB line).
pub fn shown(value: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = value.chars().take(MAX).flat_map(char::escape_debug).collect();
    if value.chars().nth(MAX).is_some() {
        out.push_str(&format!("… ({} bytes)", value.len()));
    }
    out
}

/// The caller's `x-request-id` when it is a sane token, else a fresh one.
fn request_id(headers: &HeaderMap) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let given = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::trim);
    match given {
        Some(id) if !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic()) => id.to_string(),
        _ => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            format!("sipp-{:x}-{:x}", nanos & 0xffff_ffff_ffff, NEXT.fetch_add(1, Ordering::Relaxed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn client_strings_are_capped_and_escaped_for_logs() {
        assert_eq!(shown("local"), "local");
        assert_eq!(shown("a\nb\u{0}"), "a\\nb\\0");
        let long = "m".repeat(60_000);
        let s = shown(&long);
        assert!(s.starts_with(&"m".repeat(64)) && s.ends_with("… (60000 bytes)") && s.len() < 100, "{s}");
    }
}
