//! Request structs and option buckets, as named in the spec's Library API pages.

use super::chat::ChatMessage;
use super::config::SamplingRuntimeConfig;
use super::descriptor::EndpointRef;
use crate::error::{Result, SippError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Generation options every endpoint kind understands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SippTextOptions {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Generation stops before any of these strings; they are not part of the text.
    pub stop: Vec<String>,
    pub seed: Option<u32>,
}

impl SippTextOptions {
    /// Checks every endpoint kind applies before anything runs.
    pub fn validate(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        check_top_p(self.top_p)?;
        if self.max_tokens == Some(0) {
            return Err(SippError::InvalidRequest("max_tokens must be at least 1".into()));
        }
        // An empty stop string matches before the first token: every answer would be
        // empty, which is never what was meant.
        if let Some(i) = self.stop.iter().position(String::is_empty) {
            return Err(SippError::InvalidRequest(format!(
                "stop[{i}] is empty; stop strings need at least one character"
            )));
        }
        Ok(())
    }
}

/// An f32 option as the decimal the caller wrote: `0.2f32` widened is
/// 0.20000000298023224, which is not what anyone sent. Wire formats use this.
#[must_use]
pub fn f32_as_decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

pub(crate) fn check_temperature(t: Option<f32>) -> Result<()> {
    if matches!(t, Some(t) if t < 0.0 || !t.is_finite()) {
        return Err(SippError::InvalidRequest("temperature must be a finite number >= 0".into()));
    }
    Ok(())
}

pub(crate) fn check_top_p(p: Option<f32>) -> Result<()> {
    if matches!(p, Some(p) if !(p > 0.0 && p <= 1.0)) {
        return Err(SippError::InvalidRequest("top_p must be within (0, 1]".into()));
    }
    Ok(())
}

/// Options only local endpoints accept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalTextOptions {
    /// Names the conversation for KV prefix reuse.
    pub context_key: Option<String>,
    /// GBNF grammar (root rule `root`).
    pub grammar: Option<String>,
    /// JSON schema compiled to a grammar; exclusive with `grammar`.
    pub json_schema: Option<Value>,
    /// Per-request sampling overrides on top of the endpoint's `sampling` defaults.
    pub sampling: Option<SamplingRuntimeConfig>,
}

impl LocalTextOptions {
    /// Names of the fields set, for the error a remote endpoint gives.
    #[must_use]
    pub fn fields_set(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        for (name, on) in [
            ("context_key", self.context_key.is_some()),
            ("grammar", self.grammar.is_some()),
            ("json_schema", self.json_schema.is_some()),
            ("sampling", self.sampling.is_some()),
        ] {
            if on {
                set.push(name);
            }
        }
        set
    }
}

/// Embedding options only local endpoints accept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalEmbedOptions {
    pub context_key: Option<String>,
    /// L2-normalize the vector.
    pub normalize: Option<bool>,
}

impl LocalEmbedOptions {
    /// Names of the fields set, for the error a remote endpoint gives.
    #[must_use]
    pub fn fields_set(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        if self.context_key.is_some() {
            set.push("context_key");
        }
        if self.normalize.is_some() {
            set.push("normalize");
        }
        set
    }
}

/// `query`: a raw prompt, no chat template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SippQueryRequest {
    pub endpoint: Option<EndpointRef>,
    pub prompt: String,
    pub options: SippTextOptions,
    pub local: LocalTextOptions,
    pub endpoint_options: Map<String, Value>,
    pub provider_options: Map<String, Value>,
    /// Correlates this request upstream: a gateway endpoint sends it as `x-request-id`, a
    /// provider endpoint under its descriptor's `correlation_header`. Local endpoints have
    /// nothing upstream and ignore it.
    pub request_id: Option<String>,
    /// Stream `TokenBatch` values through the run handle.
    pub emit_tokens: bool,
}

/// `chat`: role messages rendered by the endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SippChatRequest {
    pub endpoint: Option<EndpointRef>,
    pub messages: Vec<ChatMessage>,
    pub options: SippTextOptions,
    pub local: LocalTextOptions,
    pub endpoint_options: Map<String, Value>,
    pub provider_options: Map<String, Value>,
    /// Correlates this request upstream: a gateway endpoint sends it as `x-request-id`, a
    /// provider endpoint under its descriptor's `correlation_header`. Local endpoints have
    /// nothing upstream and ignore it.
    pub request_id: Option<String>,
    pub emit_tokens: bool,
}

/// `embed`: one vector for one input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SippEmbedRequest {
    pub endpoint: Option<EndpointRef>,
    pub input: String,
    pub local: LocalEmbedOptions,
    pub endpoint_options: Map<String, Value>,
    pub provider_options: Map<String, Value>,
    /// Correlates this request upstream: a gateway endpoint sends it as `x-request-id`, a
    /// provider endpoint under its descriptor's `correlation_header`. Local endpoints have
    /// nothing upstream and ignore it.
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(options: SippTextOptions) -> String {
        let e = options.validate().unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        e.to_string()
    }

    #[test]
    fn temperatures_outside_zero_to_finite_are_refused() {
        for t in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -1.0, -0.001] {
            let text = refused(SippTextOptions { temperature: Some(t), ..Default::default() });
            assert!(text.contains("temperature must be a finite number >= 0"), "{t}: {text}");
        }
        for t in [0.0, 0.7, 2.0, 100.0] {
            assert!(SippTextOptions { temperature: Some(t), ..Default::default() }.validate().is_ok(), "{t}");
        }
    }

    #[test]
    fn empty_stop_strings_are_refused() {
        let stop = vec!["\n".to_string(), String::new()];
        let text = refused(SippTextOptions { stop, ..Default::default() });
        assert!(text.contains("stop[1] is empty"), "{text}");
        let stop = vec![" ".to_string(), "###".to_string()];
        assert!(SippTextOptions { stop, ..Default::default() }.validate().is_ok());
    }
}
