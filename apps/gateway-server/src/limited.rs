//! Traffic limits as the public routes apply them: what a request may use at worst
//! (its prompt, counted by a local target's own tokenizer or bounded by its UTF-8 bytes
//! for a remote one, plus `max_tokens`, else the remaining context of a local target or
//! `limits.output_reservation_tokens`), its admission in the caller's and the target's
//! scopes, and a refusal as the answer a client can act on (429 with `Retry-After`, or
//! 400 when it can never fit, or 503 while the shared store fails closed).

use crate::public::Ctx;
use crate::state::AppState;
use crate::traffic::{Refused, Reservation, TrafficControl};
use sipp::gateway_core::GatewayRequestContext;
use sipp::{SippEmbedRequest, SippEmbeddingResponse, SippTextRequest, TextPrompt};
use sipp_gateway::{ErrorTranslator, GatewayHttpError, SippErrorTranslator};

/// Bytes a chat message adds beyond its content in any template (role markers).
const MESSAGE_OVERHEAD: u64 = 16;

/// A refused admission: the answer, and whether another target could take the request
/// (it was the target's own limit, not the caller's).
#[derive(Debug)]
pub struct Refusal {
    pub error: GatewayHttpError,
    pub elsewhere: bool,
}

/// Admit a text request to `target`, asked for as `asked` (itself, or its pool).
pub async fn reserve_text(
    s: &std::sync::Arc<AppState>,
    context: &GatewayRequestContext,
    asked: &str,
    target: &str,
    request: &SippTextRequest,
) -> Result<Reservation, Refusal> {
    let scopes = s.traffic.scopes(&context.caller, &[asked, target]);
    let (prompt, output) = if TrafficControl::counts_tokens(&scopes) {
        text_cost(s, target, request).map_err(|error| Refusal { error, elsewhere: false })?
    } else {
        (0, 0)
    };
    s.traffic.admit(scopes, prompt + output, prompt).await.map_err(|r| {
        let elsewhere =
            matches!(&r, Refused::Limited { scope, retry_after_ms: Some(_), .. } if scope.kind() == "target");
        Refusal { error: refused(s, &r), elsewhere }
    })
}

/// Admit one embedding input to `target`, asked for as `asked` (its bytes bound its
/// tokens).
pub async fn reserve_embed(
    s: &std::sync::Arc<AppState>,
    context: &GatewayRequestContext,
    asked: &str,
    target: &str,
    input: &str,
) -> Result<Reservation, GatewayHttpError> {
    let scopes = s.traffic.scopes(&context.caller, &[asked, target]);
    let prompt = input.len() as u64;
    s.traffic.admit(scopes, prompt, prompt).await.map_err(|r| refused(s, &r))
}

/// One embedding call to `target` under the traffic limits: admitted, run, settled with
/// the tokens it reported (`_in_flight` counts it meanwhile).
pub async fn embed_one(
    s: &std::sync::Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    target: &str,
    request: SippEmbedRequest,
) -> Result<SippEmbeddingResponse, GatewayHttpError> {
    // A pool embeds on its least loaded member (no affinity: embeddings keep no cache).
    let member = s.pools.get(target).and_then(|p| {
        let (order, _) = p.order(None, |m| s.controls.disabled(m).is_none());
        order.first().map(|&i| (crate::pool::balancer::MemberGuard::new(p, i), p.members[i].name.clone()))
    });
    let run_on = member.as_ref().map_or(target, |(_, name)| name.as_str()).to_string();
    let _member = member.map(|(guard, _)| guard);
    let mut reservation = reserve_embed(s, context, target, &run_on, &request.input).await?;
    ctx.limited(&reservation.remaining);
    let running = match s.pipeline.embed_on(context, target, &run_on, request) {
        Ok(running) => running,
        Err(r) => {
            reservation.release().await;
            return Err(s.refused(&r));
        }
    };
    let _in_flight = s.metrics.in_flight();
    let r = crate::public::unless_shutdown(s, running.run).await?;
    if let Some(u) = r.usage {
        reservation.used(u.input_tokens, 0);
    }
    Ok(r)
}

/// `(prompt, output bound)` in tokens.
fn text_cost(s: &AppState, target: &str, request: &SippTextRequest) -> Result<(u64, u64), GatewayHttpError> {
    let local = s.pipeline.resolver.resolve(target).ok().filter(|e| e.kind == sipp::EndpointKind::Local);
    if let Some(endpoint) = local {
        // The engine would refuse a bad prompt the same way; say so before counting it.
        let counted =
            s.client.prompt_tokens(&endpoint, &request.prompt).map_err(|e| SippErrorTranslator.translate(&e))?;
        if let Some(prompt) = counted {
            let prompt = prompt as u64;
            let n_ctx = s.client.endpoint_info(&endpoint).map_or(0, |i| u64::from(i.n_ctx));
            let output = request.options.max_tokens.map_or(n_ctx.saturating_sub(prompt), u64::from);
            return Ok((prompt, output));
        }
    }
    let prompt = match &request.prompt {
        TextPrompt::Raw(p) => p.len() as u64,
        TextPrompt::Messages(m) => m.iter().map(|m| m.content.len() as u64 + MESSAGE_OVERHEAD).sum(),
    };
    let output = u64::from(request.options.max_tokens.unwrap_or(s.config.limits.output_reservation_tokens));
    Ok((prompt, output))
}

/// A refusal as its HTTP answer, counted by reason.
pub fn refused(s: &AppState, r: &Refused) -> GatewayHttpError {
    match r {
        Refused::Limited { scope, kind, retry_after_ms: Some(ms), .. } => {
            s.metrics.rejected("limited");
            let secs = ms.div_ceil(1000).max(1);
            GatewayHttpError::of(
                sipp::ErrorCode::Overloaded,
                format!(
                    "rate limit: {} `{}` is over its {}; retry in {secs} s",
                    scope.kind(),
                    crate::public::shown(scope.name()),
                    kind.as_str()
                ),
            )
            .with_retry_after(secs)
        }
        Refused::Limited { scope, kind, retry_after_ms: None, tokens } => {
            s.metrics.rejected("too_many_tokens");
            let limit = scope.limits.tokens_per_minute.unwrap_or(0);
            GatewayHttpError::invalid_request(format!(
                "this request may use {tokens} tokens (prompt and max_tokens), more than {} `{}`'s whole {} ({limit}): lower max_tokens or shorten the prompt",
                scope.kind(),
                crate::public::shown(scope.name()),
                kind.as_str()
            ))
        }
        Refused::Unreachable(e) => {
            s.metrics.rejected("state_unreachable");
            GatewayHttpError::of(
                sipp::ErrorCode::Unavailable,
                format!("the gateway cannot reach its shared limit store ({e}); retry"),
            )
            .with_retry_after(1)
        }
    }
}
