//! The public listener's inference routes: authenticate, read the body within
//! `max_request_bytes`, decode, resolve and authorize the target, admit, run, encode
//! (JSON, or SSE when the body says `"stream": true`). Every answer carries the request
//! id; every failure is the profile's `{"error": {"code", "message"}}`.

use crate::state::AppState;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sipp::gateway_core::{AdmissionPermit, GatewayRequestContext, GatewayTextRun};
use sipp::{SippTextResponse, SippTextRun};
use sipp_gateway::{
    Authenticator, ErrorTranslator, GatewayCodec, GatewayHttpError, ProtocolCodec, SippErrorTranslator, SseEncoder,
    StatusCode, SSE_CONTENT_TYPE,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub const REQUEST_ID: &str = "x-request-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Query,
    Chat,
    Embed,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Chat => "chat",
            Self::Embed => "embed",
        }
    }
}

pub async fn query(State(s): State<Arc<AppState>>, parts: Parts, body: Body) -> Response {
    handle(s, Operation::Query, parts, body).await
}

pub async fn chat(State(s): State<Arc<AppState>>, parts: Parts, body: Body) -> Response {
    handle(s, Operation::Chat, parts, body).await
}

pub async fn embed(State(s): State<Arc<AppState>>, parts: Parts, body: Body) -> Response {
    handle(s, Operation::Embed, parts, body).await
}

/// Per-request facts for the one log line and the metrics.
#[derive(Clone)]
struct Ctx {
    id: String,
    op: Operation,
    started: Instant,
    caller: Option<String>,
    target: Option<String>,
}

async fn handle(s: Arc<AppState>, op: Operation, parts: Parts, body: Body) -> Response {
    let headers = &parts.headers;
    let mut ctx = Ctx { id: request_id(headers), op, started: Instant::now(), caller: None, target: None };
    // Without a socket (router tests) every request shares the unspecified address.
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let client = s.client_ip.resolve(peer, headers);
    let outcome = match s.rate_limit(client) {
        Ok(()) => run(&s, &mut ctx, headers, body).await,
        Err(e) => {
            s.metrics.rejected("rate_limited");
            Err(e)
        }
    };
    let mut response = match outcome {
        Ok(r) => r,
        Err(e) => {
            finish(&s, &ctx, e.status.as_u16(), Some(&e.code), None);
            error_response(&e)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&ctx.id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

async fn run(s: &Arc<AppState>, ctx: &mut Ctx, headers: &HeaderMap, body: Body) -> Result<Response, GatewayHttpError> {
    let caller = s.tokens.authenticate(headers).inspect_err(|_| s.metrics.rejected("unauthenticated"))?;
    ctx.caller = Some(caller.0.clone());
    let context = GatewayRequestContext { request_id: ctx.id.clone(), caller: caller.0 };
    let limit = usize::try_from(s.config.max_request_bytes).unwrap_or(usize::MAX);
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        s.metrics.rejected("too_large");
        GatewayHttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds max_request_bytes ({limit})"),
        )
    })?;
    let codec = GatewayCodec;
    let translate = |e: sipp::SippError| SippErrorTranslator.translate(&e);
    match ctx.op {
        Operation::Query => {
            let d = codec.decode_query(&bytes)?;
            no_extra_fields(&d.request.endpoint_options)?;
            ctx.target = Some(d.target.clone());
            let stream = d.request.emit_tokens;
            let run = s.pipeline.query(&context, &d.target, d.request).map_err(|r| s.refused(&r))?;
            text_answer(s, ctx, run, stream).await
        }
        Operation::Chat => {
            let d = codec.decode_chat(&bytes)?;
            no_extra_fields(&d.request.endpoint_options)?;
            ctx.target = Some(d.target.clone());
            let stream = d.request.emit_tokens;
            let run = s.pipeline.chat(&context, &d.target, d.request).map_err(|r| s.refused(&r))?;
            text_answer(s, ctx, run, stream).await
        }
        Operation::Embed => {
            let d = codec.decode_embed(&bytes)?;
            no_extra_fields(&d.request.endpoint_options)?;
            ctx.target = Some(d.target.clone());
            let running = s.pipeline.embed(&context, &d.target, d.request).map_err(|r| s.refused(&r))?;
            let _in_flight = s.metrics.in_flight();
            let r = running.run.await.map_err(translate)?;
            let body = codec.encode_embedding(&d.target, &r)?;
            finish(s, ctx, 200, None, r.usage.map(|u| (u.input_tokens, 0)));
            Ok(json(StatusCode::OK, body))
        }
    }
}

/// This gateway interprets only the profile's fields; anything else is a 400 naming it,
/// never silently dropped.
fn no_extra_fields(extra: &serde_json::Map<String, serde_json::Value>) -> Result<(), GatewayHttpError> {
    if extra.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = extra.keys().map(String::as_str).collect();
    Err(GatewayHttpError::invalid_request(format!("unsupported request fields: {}", names.join(", "))))
}

async fn text_answer(
    s: &Arc<AppState>,
    ctx: &Ctx,
    running: GatewayTextRun,
    stream: bool,
) -> Result<Response, GatewayHttpError> {
    let GatewayTextRun { mut run, permit } = running;
    let target = ctx.target.clone().unwrap_or_default();
    if !stream {
        let _in_flight = s.metrics.in_flight();
        let r = run.finish().await.map_err(|e| SippErrorTranslator.translate(&e))?;
        let body = GatewayCodec.encode_text(&target, &r)?;
        finish(s, ctx, 200, None, usage(&r));
        drop(permit);
        return Ok(json(StatusCode::OK, body));
    }
    // Errors before the first event still answer with a status (e.g. the engine refused
    // the prompt at submit); later ones become an `error` event.
    let first = run.next().await;
    if let Some(Err(e)) = &first {
        return Err(SippErrorTranslator.translate(e));
    }
    let state = Arc::clone(s);
    let events = async_stream(state, ctx.clone(), run, first, permit);
    let mut response = Response::new(Body::from_stream(events));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(SSE_CONTENT_TYPE));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The SSE body. It owns the run and the admission permit: when the client goes away,
/// axum drops the body, which drops the run (cancelling the engine sequence or the
/// upstream call) and frees the place.
fn async_stream(
    s: Arc<AppState>,
    ctx: Ctx,
    run: SippTextRun,
    first: Option<sipp::Result<sipp::TokenBatch>>,
    permit: AdmissionPermit,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    struct Live {
        s: Arc<AppState>,
        ctx: Ctx,
        run: SippTextRun,
        pending: Option<sipp::Result<sipp::TokenBatch>>,
        done: bool,
        _permit: AdmissionPermit,
        _in_flight: InFlightOwned,
    }
    let in_flight = InFlightOwned::new(&s);
    let live = Live { s, ctx, run, pending: first, done: false, _permit: permit, _in_flight: in_flight };
    futures_util::stream::unfold(live, |mut l| async move {
        if l.done {
            return None;
        }
        let next = match l.pending.take() {
            Some(item) => Some(item),
            None => l.run.next().await,
        };
        let frame = match next {
            Some(Ok(batch)) => SseEncoder.token(&batch),
            Some(Err(e)) => {
                l.done = true;
                let e = SippErrorTranslator.translate(&e);
                finish(&l.s, &l.ctx, 200, Some(&e.code), None);
                SseEncoder.error(&e)
            }
            None => {
                l.done = true;
                match l.run.finish().await {
                    Ok(r) => {
                        finish(&l.s, &l.ctx, 200, None, usage(&r));
                        SseEncoder.finish(&r)
                    }
                    Err(e) => {
                        let e = SippErrorTranslator.translate(&e);
                        finish(&l.s, &l.ctx, 200, Some(&e.code), None);
                        SseEncoder.error(&e)
                    }
                }
            }
        };
        Some((Ok(frame), l))
    })
}

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
    tracing::info!(
        request_id = %ctx.id,
        caller = ctx.caller.as_deref().unwrap_or("-"),
        target = ctx.target.as_deref().unwrap_or("-"),
        operation = ctx.op.as_str(),
        status,
        error = error_code.unwrap_or("-"),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        input_tokens = tokens.map_or(0, |t| t.0),
        output_tokens = tokens.map_or(0, |t| t.1),
        "request"
    );
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn error_response(e: &GatewayHttpError) -> Response {
    let mut r = json(e.status, e.body());
    if let Some(secs) = e.retry_after_secs {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
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
