//! The local kind behind the client's `Endpoint` seam: request options become engine
//! parameters, prompts become tokens on the caller's thread (so bad ones fail before they
//! queue), and the engine thread does the rest.

use super::handle::Engine;
use super::plan::validate_sampling;
use super::request::TextParams;
use crate::error::{Result, SippError};
use crate::types::endpoint::{EmbedReply, Endpoint, Operation, TextStream};
use crate::types::{EndpointKind, EngineStats, ModelInfo, SippEmbedRequest, SippTextRequest, TextPrompt};

impl Endpoint for Engine {
    fn kind(&self) -> EndpointKind {
        EndpointKind::Local
    }

    fn supports(&self, op: Operation) -> bool {
        match op {
            Operation::Text => !self.info().embeddings,
            Operation::Embed => self.info().embeddings,
        }
    }

    fn text(&self, request: &SippTextRequest) -> Result<TextStream> {
        let params = text_params(request)?;
        let tokens = self.tokenize(&request.prompt)?;
        let (events, cancel) = self.submit_text(tokens, params)?;
        Ok(TextStream { events, cancel, credits: None })
    }

    fn embed(&self, request: &SippEmbedRequest) -> Result<EmbedReply> {
        let (reply, cancel) = self.submit_embed(&request.input, request.local.normalize.unwrap_or(false))?;
        Ok(EmbedReply { reply, cancel })
    }

    fn model_info(&self) -> Option<ModelInfo> {
        Some(self.info().clone())
    }

    fn stats(&self) -> Option<EngineStats> {
        Some(Engine::stats(self))
    }

    fn prompt_tokens(&self, prompt: &TextPrompt) -> Option<Result<usize>> {
        Some(self.tokenize(prompt).map(|t| t.len()))
    }
}

fn text_params(request: &SippTextRequest) -> Result<TextParams> {
    let (options, local) = (&request.options, &request.local);
    options.validate()?;
    let mut sampling = local.sampling.clone().unwrap_or_default();
    validate_sampling(&sampling).map_err(|e| SippError::InvalidRequest(e.to_string()))?;
    // Shared options win over the local sampling bucket.
    sampling.temperature = options.temperature.or(sampling.temperature);
    sampling.top_p = options.top_p.or(sampling.top_p);
    sampling.min_p = options.min_p.or(sampling.min_p);
    sampling.seed = options.seed.or(sampling.seed);
    let grammar = match (&local.grammar, &local.json_schema) {
        (Some(_), Some(_)) => {
            return Err(SippError::InvalidRequest("set grammar or json_schema, not both".into()));
        }
        (Some(g), None) => Some(g.clone()),
        (None, Some(schema)) => Some(Engine::schema_grammar(&schema.to_string())?),
        (None, None) => None,
    };
    Ok(TextParams {
        max_tokens: options.max_tokens,
        stop: options.stop.clone(),
        sampling,
        grammar,
        context_key: local.context_key.clone(),
        emit_tokens: request.emit_tokens,
    })
}
