//! Which target runs a request, and what happens when it cannot start it: a target an
//! operator disabled hands its requests on; a target that refuses before anything
//! reached the client (its own traffic limit, still loading, a full queue, an upstream's
//! 429 or 503, a failed connection) hands the request to the next of its fallbacks — the
//! dashboard's override first, then `fallbacks` from the TOML, in order, each only if it
//! exists, is enabled and the caller may use it. A stream that started is never retried.
//! A pool (`pool`) is tried member by member in its balancer's order, for the same
//! reasons, before its own fallbacks. The answer names the target that served
//! (`x-sipp-target`, `x-sipp-fallback-from`, `x-sipp-pool`), as do the log line and
//! `sipp_gateway_fallbacks_total`.

use crate::limited::Refusal;
use crate::pool::balancer::{MemberGuard, Pool, BROKEN};
use crate::public::{shown, text_answer, Ctx, Holding};
use crate::state::AppState;
use axum::response::Response;
use sipp::gateway_core::{GatewayRefusal, GatewayRequestContext};
use sipp::{SippTextRequest, SippTextResponse};
use sipp_gateway::{GatewayHttpError, StatusCode, StreamEncoder};
use std::collections::VecDeque;
use std::sync::Arc;

/// Failures that say nothing ran yet and another target may do better: the engine's
/// full queue or a closed endpoint, an upstream's 429 or 503, a failed connection.
const ELSEWHERE: [&str; 5] =
    ["overloaded", "unavailable", "upstream_overloaded", "upstream_unavailable", "upstream_connection"];

/// Which target runs a request for `target`: itself, or, while an operator has it
/// disabled, its first usable fallback (else a 503 with the operator's reason). Targets
/// that do not exist or that the caller may not use are left to the pipeline's own
/// refusals, so a caller learns nothing about targets it cannot use.
pub fn route(
    s: &AppState,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    target: &str,
) -> Result<String, GatewayHttpError> {
    ctx.target = Some(shown(target));
    if !s.pipeline.resolver.exists(target) || s.pipeline.authorizer.authorize(context, target).is_err() {
        return Ok(target.to_string());
    }
    ctx.served = Some(target.to_string());
    let Some(disabled) = s.controls.disabled(target) else { return Ok(target.to_string()) };
    if let Some(fallback) = fallbacks(s, context, target).into_iter().next() {
        s.metrics.fell_back(target, &fallback, "disabled");
        ctx.fall_back(target, &fallback);
        return Ok(fallback);
    }
    s.metrics.rejected("disabled");
    // No Retry-After: how long an operator keeps a target off is not known here, and a
    // client must not poll it every second.
    Err(GatewayHttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        sipp::ErrorCode::Unavailable.as_str(),
        format!("target `{target}` is disabled by the gateway's operator: {}", disabled.reason),
    ))
}

/// `target`'s fallbacks that can serve this caller now, in order: the dashboard's
/// override, then the TOML's list; each configured, enabled and allowed, once.
fn fallbacks(s: &AppState, context: &GatewayRequestContext, target: &str) -> Vec<String> {
    let configured = s.config.targets.iter().find(|t| t.name() == target).map_or(&[][..], |t| t.fallbacks());
    let mut out: Vec<String> = Vec::new();
    for to in s.controls.fallback(target).into_iter().chain(configured.iter().cloned()) {
        let usable = to != target
            && !out.contains(&to)
            && s.pipeline.resolver.exists(&to)
            && s.controls.disabled(&to).is_none()
            && s.pipeline.authorizer.authorize(context, &to).is_ok();
        if usable {
            out.push(to);
        }
    }
    out
}

/// Where one try runs: `run_on`, for a caller who asked for `asked` (the same target,
/// or the pool `run_on` is member `member` of).
#[derive(Debug, Clone)]
struct Step {
    asked: String,
    run_on: String,
    member: Option<(Arc<Pool>, usize)>,
}

/// The tries for `target`: itself, or a pool's members in the order its balancer gives.
fn steps(s: &AppState, target: &str, request: &SippTextRequest) -> VecDeque<Step> {
    let Some(pool) = s.pools.get(target) else {
        return VecDeque::from([Step { asked: target.to_string(), run_on: target.to_string(), member: None }]);
    };
    let key = crate::pool::prefix_key(&request.prompt, pool.config.affinity_prefix_chars);
    let (order, _) = pool.order(key.as_deref(), |m| s.controls.disabled(m).is_none());
    order
        .into_iter()
        .map(|i| Step {
            asked: target.to_string(),
            run_on: pool.members[i].name.clone(),
            member: Some((Arc::clone(pool), i)),
        })
        .collect()
}

/// What every text route does once its wire is decoded: route the target, admit and run
/// it (a pool: on its chosen member, then the others), answer with `encode` (JSON) or
/// `encoder` (stream), each given the serving target's name; a failure that says nothing
/// ran goes to the next member, then to the next fallback.
pub async fn text_route(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    target: &str,
    request: SippTextRequest,
    encode: impl Fn(&str, &SippTextResponse) -> Result<Vec<u8>, GatewayHttpError>,
    encoder: impl Fn(&str) -> Box<dyn StreamEncoder>,
) -> Result<Response, GatewayHttpError> {
    let first = route(s, ctx, context, target)?;
    let mut next_targets: VecDeque<String> = if ctx.served.is_some() {
        let all = fallbacks(s, context, target);
        // Past the one `route` chose for a disabled target.
        let skip = all.iter().position(|t| *t == first).map_or(0, |i| i + 1);
        all.into_iter().skip(skip).collect()
    } else {
        VecDeque::new()
    };
    let mut current = first;
    let mut tries = steps(s, &current, &request);
    let mut request = request;
    loop {
        let Some(step) = tries.pop_front() else {
            // A pool with no usable member: its fallbacks, else the pipeline's answer.
            match next_targets.pop_front() {
                Some(to) => {
                    s.metrics.fell_back(&current, &to, "no_member");
                    ctx.fall_back(target, &to);
                    tries = steps(s, &to, &request);
                    current = to;
                    continue;
                }
                None => {
                    return Err(GatewayHttpError::of(
                        sipp::ErrorCode::Unavailable,
                        format!("pool `{}` has no member that can take requests now", shown(&current)),
                    ));
                }
            }
        };
        let more = !tries.is_empty() || !next_targets.is_empty();
        let spare = more.then(|| request.clone());
        let failed = match attempt(s, ctx, context, &step, request, more, &encode, &encoder).await {
            Ok(answer) => return Ok(answer),
            Err(failed) => failed,
        };
        let (true, Some(again)) = (failed.elsewhere, spare) else { return Err(failed.error) };
        request = again;
        if let Some(next) = tries.front() {
            tracing::info!(request_id = %ctx.id, pool = %current, from = %step.run_on, to = %next.run_on, reason = %failed.error.code, "pool member could not start the request; next member");
            continue;
        }
        let Some(to) = next_targets.pop_front() else { return Err(failed.error) };
        tracing::info!(request_id = %ctx.id, from = %current, to = %to, reason = %failed.error.code, "falling back");
        s.metrics.fell_back(&current, &to, &failed.error.code);
        ctx.fall_back(target, &to);
        tries = steps(s, &to, &request);
        current = to;
    }
}

/// Why one target did not answer, and whether another may.
struct Failed {
    error: GatewayHttpError,
    elsewhere: bool,
}

/// One try: admission by the traffic limits (the caller's, the asked target's, the
/// member's), the pipeline, the answer. With `more` to go, a stream's headers wait (up
/// to a keep-alive interval) for the first event, so that an upstream's 429 still
/// reaches the next one.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    step: &Step,
    request: SippTextRequest,
    more: bool,
    encode: &impl Fn(&str, &SippTextResponse) -> Result<Vec<u8>, GatewayHttpError>,
    encoder: &impl Fn(&str) -> Box<dyn StreamEncoder>,
) -> Result<Response, Failed> {
    let stream = request.emit_tokens;
    let target = step.run_on.as_str();
    ctx.pool = step.member.is_some().then(|| step.asked.clone());
    if step.member.is_some() {
        ctx.served = Some(target.to_string());
    }
    let reservation = crate::limited::reserve_text(s, context, &step.asked, target, &request)
        .await
        .map_err(|Refusal { error, elsewhere }| Failed { error, elsewhere })?;
    ctx.limited(&reservation.remaining);
    let member = step.member.as_ref().map(|(pool, i)| MemberGuard::new(pool, *i));
    let mut held = Holding { reservation: Some(reservation), member };
    let run = match s.pipeline.text_on(context, &step.asked, target, request) {
        Ok(run) => run,
        Err(r) => {
            let elsewhere = matches!(r, GatewayRefusal::Loading(_));
            return Err(Failed { error: released(&mut held, s.refused(&r)).await, elsewhere });
        }
    };
    let hold = more.then(|| s.config.limits.stream_keep_alive());
    match text_answer(s, ctx, run, &mut held, stream, hold, |r| encode(target, r), encoder(target)).await {
        Ok(answer) => Ok(answer),
        Err(error) => {
            if let Some(m) = &held.member {
                if BROKEN.contains(&error.code.as_str()) {
                    m.failed();
                }
            }
            if ELSEWHERE.contains(&error.code.as_str()) {
                // Nothing reached the client: the reservation goes back whole.
                Err(Failed { error: released(&mut held, error).await, elsewhere: true })
            } else {
                Err(Failed { error, elsewhere: false })
            }
        }
    }
}

/// `error`, after giving back everything `held` reserved (the request never ran).
async fn released(held: &mut Holding, error: GatewayHttpError) -> GatewayHttpError {
    if let Some(r) = held.reservation.take() {
        r.release().await;
    }
    error
}
