//! OpenAI's API, and every server that copies its routes: `/completions` for query,
//! `/chat/completions` for chat, `/embeddings` for embed; streams are `data:` chunks
//! ending in `[DONE]`, usage in a last chunk (`stream_options.include_usage`).

use super::{ProviderKind, ProviderSpec};
use crate::error::Result;
use crate::transport::body as helpers;
use crate::transport::{merge_options, text_at, Call, Fault, RemoteEndpoint, StreamDecoder, StreamItem, Wire};
use crate::types::endpoint::Operation;
use crate::types::{
    EndpointKind, FinishReason, SippEmbedRequest, SippEmbeddingResponse, SippTextRequest, SippTextResponse, TextPrompt,
    Usage,
};
use serde_json::{json, Map, Value};
use std::sync::{Arc, LazyLock};

/// Body fields Sipp sets besides the shared options; `provider_options` may set neither.
const TYPED: &[&str] =
    &["model", "messages", "prompt", "input", "max_completion_tokens", "stream", "stream_options", "encoding_format"];

static RESERVED: LazyLock<Vec<&'static str>> = LazyLock::new(|| helpers::reserved(TYPED));

/// api.openai.com.
pub(crate) const OPENAI: ProviderSpec = ProviderSpec {
    kind: ProviderKind::Openai,
    default_base_url: Some("https://api.openai.com/v1"),
    key_env: Some("OPENAI_API_KEY"),
    base_url_env: Some(("OPENAI_BASE_URL", "")),
    auth_header: "authorization",
    default_headers: &[],
    embeddings: true,
    gateway_key_field: "api_key_env",
    build: |d, http| Ok(Arc::new(RemoteEndpoint::new(OpenAiWire::new(&d.model, &OPENAI), http)?)),
};

/// Any server with OpenAI's routes (llama-server, vLLM, LiteLLM, …).
pub(crate) const COMPATIBLE: ProviderSpec = ProviderSpec {
    kind: ProviderKind::OpenaiCompatible,
    default_base_url: None,
    key_env: None,
    base_url_env: None,
    auth_header: "authorization",
    default_headers: &[],
    embeddings: true,
    gateway_key_field: "token_env",
    build: |d, http| Ok(Arc::new(RemoteEndpoint::new(OpenAiWire::new(&d.model, &COMPATIBLE), http)?)),
};

#[derive(Debug)]
pub(crate) struct OpenAiWire {
    model: String,
    /// A compatible server: `max_tokens` (what they all read) instead of OpenAI's
    /// `max_completion_tokens` for chat (which its newer models require).
    compatible: bool,
    embeddings: bool,
}

impl OpenAiWire {
    fn new(model: &str, spec: &ProviderSpec) -> Self {
        let compatible = spec.kind == ProviderKind::OpenaiCompatible;
        Self { model: model.to_string(), compatible, embeddings: spec.embeddings }
    }
}

impl Wire for OpenAiWire {
    fn kind(&self) -> EndpointKind {
        EndpointKind::Provider
    }

    fn supports(&self, op: Operation) -> bool {
        op == Operation::Text || self.embeddings
    }

    /// The shared options go under their own names (OpenAI's and Sipp's agree), except
    /// on OpenAI's own chat route, which wants `max_completion_tokens`.
    fn text_call(&self, request: &SippTextRequest) -> Result<Call> {
        request.options.validate()?;
        let mut body = helpers::option_fields(&request.options);
        body.insert("model".into(), json!(self.model));
        let path = match &request.prompt {
            TextPrompt::Raw(prompt) => {
                body.insert("prompt".into(), json!(prompt));
                "/completions"
            }
            TextPrompt::Messages(messages) => {
                body.insert("messages".into(), json!(messages));
                if let Some(max) = body.remove("max_tokens") {
                    let key = if self.compatible { "max_tokens" } else { "max_completion_tokens" };
                    body.insert(key.into(), max);
                }
                "/chat/completions"
            }
        };
        if request.emit_tokens {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        merge_options(&mut body, &request.provider_options, &RESERVED, "provider_options")?;
        Ok(Call { path: path.into(), body: Value::Object(body), stream: request.emit_tokens })
    }

    fn embed_call(&self, request: &SippEmbedRequest) -> Result<Call> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("input".into(), json!(request.input));
        body.insert("encoding_format".into(), json!("float"));
        merge_options(&mut body, &request.provider_options, &RESERVED, "provider_options")?;
        Ok(Call { path: "/embeddings".into(), body: Value::Object(body), stream: false })
    }

    fn text_response(&self, body: &Value) -> Result<SippTextResponse, Fault> {
        let choice = body
            .pointer("/choices/0")
            .ok_or_else(|| Fault::protocol(format!("no choices in the response: {}", crate::transport::quote(body))))?;
        let text = text_at(choice, "/message/content")?
            .or(text_at(choice, "/text")?)
            // A refusal has no content but says why.
            .or(text_at(choice, "/message/refusal")?)
            .unwrap_or_default();
        Ok(SippTextResponse {
            text: text.to_string(),
            finish_reason: finish_reason(choice.get("finish_reason")).unwrap_or(FinishReason::Stop),
            usage: usage(body.get("usage")),
            local_stats: None,
        })
    }

    fn embed_response(&self, body: &Value) -> Result<SippEmbeddingResponse, Fault> {
        let values = helpers::floats(body.pointer("/data/0/embedding")).ok_or_else(|| {
            Fault::protocol(format!(
                "no data[0].embedding float array in the response: {}",
                crate::transport::quote(body)
            ))
        })?;
        let usage = body.get("usage").and_then(|u| {
            let input = u.get("prompt_tokens")?.as_u64()?;
            Some(Usage::new(usize::try_from(input).ok()?, 0))
        });
        Ok(helpers::embedding(values, usage, None))
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(ChunkDecoder)
    }
}

fn finish_reason(v: Option<&Value>) -> Option<FinishReason> {
    // `content_filter` and `tool_calls` end the text as `stop` does.
    v.and_then(Value::as_str).map(|r| if r == "length" { FinishReason::Length } else { FinishReason::Stop })
}

fn usage(v: Option<&Value>) -> Option<Usage> {
    let u = v?;
    let input = usize::try_from(u.get("prompt_tokens")?.as_u64()?).ok()?;
    let output = usize::try_from(u.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0)).ok()?;
    Some(Usage::new(input, output))
}

struct ChunkDecoder;

impl StreamDecoder for ChunkDecoder {
    fn decode(&mut self, _event: &str, data: &str) -> Result<Vec<StreamItem>, Fault> {
        if data.trim() == "[DONE]" {
            return Ok(vec![StreamItem::End]);
        }
        let chunk = crate::transport::parse_data(data)?;
        if chunk.get("error").is_some() {
            return Err(Fault::from_error_object(None, &chunk));
        }
        let mut items = Vec::new();
        if let Some(choice) = chunk.pointer("/choices/0") {
            if let Some(t) = text_at(choice, "/delta/content")?.or(text_at(choice, "/text")?) {
                items.push(StreamItem::Text(t.to_string()));
            }
            if let Some(f) = finish_reason(choice.get("finish_reason")) {
                items.push(StreamItem::Finish(f));
            }
        }
        if let Some(u) = usage(chunk.get("usage")) {
            items.push(StreamItem::Usage(u));
        }
        Ok(items)
    }
}
