//! The first-party profile's routes (`[routes] query/chat/embed`; spec: Gateway Testing).

use crate::handler;
use crate::public::{embedded, Ctx, Dialect, Operation};
use crate::routing::{route, text_route};
use crate::state::AppState;
use axum::body::Bytes;
use axum::response::Response;
use sipp::gateway_core::GatewayRequestContext;
use sipp::{SippTextRequest, SippTextResponse};
use sipp_gateway::{Decoded, GatewayCodec, GatewayHttpError, ProtocolCodec, SseEncoder};
use std::sync::Arc;

handler!(query, Operation::Query, Dialect::Sipp, query_run);
handler!(chat, Operation::Chat, Dialect::Sipp, chat_run);
handler!(embed, Operation::Embed, Dialect::Sipp, embed_run);

async fn query_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    bytes: &Bytes,
) -> Result<Response, GatewayHttpError> {
    text_run(s, ctx, context, GatewayCodec.decode_query(bytes)?).await
}

async fn chat_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    bytes: &Bytes,
) -> Result<Response, GatewayHttpError> {
    text_run(s, ctx, context, GatewayCodec.decode_chat(bytes)?).await
}

async fn text_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    d: Decoded<SippTextRequest>,
) -> Result<Response, GatewayHttpError> {
    no_extra_fields(&d.request.endpoint_options)?;
    let encode = |target: &str, r: &SippTextResponse| GatewayCodec.encode_text(target, r);
    text_route(s, ctx, context, &d.target, d.request, encode, |_| Box::new(SseEncoder)).await
}

async fn embed_run(
    s: &Arc<AppState>,
    ctx: &mut Ctx,
    context: &GatewayRequestContext,
    bytes: &Bytes,
) -> Result<Response, GatewayHttpError> {
    let d = GatewayCodec.decode_embed(bytes)?;
    no_extra_fields(&d.request.endpoint_options)?;
    let served = route(s, ctx, context, &d.target)?;
    let r = crate::limited::embed_one(s, ctx, context, &served, d.request).await?;
    let body = GatewayCodec.encode_embedding(&served, &r)?;
    Ok(embedded(s, ctx, r.usage.map(|u| u.input_tokens), body))
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
