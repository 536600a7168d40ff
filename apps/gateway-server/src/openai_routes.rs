//! OpenAI-compatible routes (beyond the spec; `[routes] openai`, default `/v1`):
//! `chat/completions`, `completions`, `embeddings`, `models`. Same tokens, allowlists,
//! admission, limits, metrics and logs as the first-party routes; only the wire differs,
//! so the official `openai` SDKs work against the gateway, streaming included.

use crate::handler;
use crate::public::{admit, embedded, json, respond, Ctx, Dialect, Operation};
use crate::routing::{route, text_route};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::response::Response;
use sipp::gateway_core::GatewayRequestContext;
use sipp::SippTextResponse;
use sipp_gateway::{GatewayHttpError, OpenAiAnswer, OpenAiCodec, OpenAiRoute, StatusCode};
use std::sync::Arc;

handler!(chat_completions, Operation::Chat, Dialect::OpenAi, chat_run);
handler!(completions, Operation::Query, Dialect::OpenAi, completion_run);
handler!(embeddings, Operation::Embed, Dialect::OpenAi, embeddings_run);

/// The answer's envelope; `model` is the target that served (a fallback's name when one did).
fn answer(id: &str, target: &str, route: OpenAiRoute) -> OpenAiAnswer {
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    OpenAiAnswer { id: id.to_string(), created, model: target.to_string(), route }
}

async fn chat_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    bytes: &Bytes,
) -> Result<Response, GatewayHttpError> {
    let d = OpenAiCodec.decode_chat(bytes)?;
    openai_text(s, ctx, context, &d.target, d.request, d.include_usage, OpenAiRoute::Chat).await
}

async fn completion_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    bytes: &Bytes,
) -> Result<Response, GatewayHttpError> {
    let d = OpenAiCodec.decode_completion(bytes)?;
    openai_text(s, ctx, context, &d.target, d.request, d.include_usage, OpenAiRoute::Completion).await
}

async fn openai_text(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    target: &str,
    request: sipp::SippTextRequest,
    include_usage: bool,
    route: OpenAiRoute,
) -> Result<Response, GatewayHttpError> {
    let id = ctx.id.clone();
    let encoder = |served: &str| -> Box<dyn sipp_gateway::StreamEncoder> {
        Box::new(OpenAiCodec.stream_encoder(answer(&id, served, route), include_usage))
    };
    let encode = |served: &str, r: &SippTextResponse| Ok(OpenAiCodec.encode_text(&answer(&id, served, route), r));
    text_route(s, ctx, context, target, request, encode, encoder).await
}

/// Inputs run one after another, each admitted like a single request, so a batch never
/// holds more than one admission place; `limits.max_embedding_inputs` bounds how many
/// calls one request can make.
async fn embeddings_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    bytes: &Bytes,
) -> Result<Response, GatewayHttpError> {
    let d = OpenAiCodec.decode_embeddings(bytes)?;
    let served = route(s, ctx, context, &d.target)?;
    let max = s.config.limits.max_embedding_inputs as usize;
    if d.inputs.len() > max {
        return Err(GatewayHttpError::invalid_request(format!(
            "input has {} items; this gateway takes at most {max} per request (limits.max_embedding_inputs)",
            d.inputs.len()
        ))
        .with_param("input"));
    }
    let _in_flight = s.metrics.in_flight();
    let mut out = Vec::with_capacity(d.inputs.len());
    for input in d.inputs {
        out.push(crate::limited::embed_one(s, ctx, context, &served, input).await?);
    }
    let counted = out.iter().all(|r| r.usage.is_some());
    let tokens = counted.then(|| out.iter().filter_map(|r| r.usage).map(|u| u.input_tokens).sum());
    Ok(embedded(s, ctx, tokens, OpenAiCodec.encode_embeddings(&served, &out, d.base64)))
}

/// `GET {openai}/models`: the targets this token may use.
pub async fn models(State(s): State<Arc<AppState>>, parts: Parts) -> Response {
    let mut ctx = Ctx::new(Operation::Models, Dialect::OpenAi, &parts);
    let outcome = match admit(&s, &mut ctx, &parts, None).await {
        Ok((context, _)) => {
            let visible = s.visible_targets(&context);
            Ok(listed(&s, &ctx, OpenAiCodec.encode_models(visible.iter().map(String::as_str))))
        }
        Err(e) => Err(e),
    };
    respond(&s, &ctx, outcome)
}

/// `GET {openai}/models/{id}`: 404 for a target this token may not use, as for one that
/// does not exist.
pub async fn model(State(s): State<Arc<AppState>>, Path(id): Path<String>, parts: Parts) -> Response {
    let mut ctx = Ctx::new(Operation::Models, Dialect::OpenAi, &parts);
    let outcome = match admit(&s, &mut ctx, &parts, None).await {
        Ok((context, _)) if s.visible_targets(&context).contains(&id) => {
            Ok(listed(&s, &ctx, OpenAiCodec.encode_model(&id)))
        }
        Ok(_) => Err(GatewayHttpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no model `{}`", crate::public::shown(&id)),
        )
        .with_param("model")),
        Err(e) => Err(e),
    };
    respond(&s, &ctx, outcome)
}

fn listed(s: &AppState, ctx: &Ctx, body: Vec<u8>) -> Response {
    crate::public::finished(s, ctx);
    json(StatusCode::OK, body)
}
