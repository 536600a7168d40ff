//! Request structs and option buckets, as named in the spec's Library API pages.

use super::config::SamplingRuntimeConfig;
use super::fields::{field_names, fields_set};
use crate::error::{Result, SippError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Generation options every endpoint kind understands: the one list of them. The
/// gateway profile flattens this struct into its bodies, the OpenAI route reads it, the
/// remote adapters send what it serializes to, and the schema other languages check their
/// types against is derived from it (`schema/sipp.schema.json`). Unset fields serialize
/// to nothing so a body carries only what the caller set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SippTextOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "decimal")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "decimal")]
    pub top_p: Option<f32>,
    /// Drop tokens less likely than `min_p` times the likeliest one; within [0, 1].
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "decimal")]
    pub min_p: Option<f32>,
    /// Generation stops before any of these strings; they are not part of the text.
    /// `null` means none, as on the OpenAI-compatible routes.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub stop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// `0.2`, not the f32's widened 0.20000000298023224.
#[allow(clippy::ref_option)] // serde's serialize_with signature
fn decimal<S: serde::Serializer>(v: &Option<f32>, s: S) -> std::result::Result<S::Ok, S::Error> {
    v.map(f32_as_decimal).serialize(s)
}

impl SippTextOptions {
    /// Checks every endpoint kind applies before anything runs.
    pub fn validate(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        check_top_p(self.top_p)?;
        check_min_p(self.min_p)?;
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

pub(crate) fn check_min_p(p: Option<f32>) -> Result<()> {
    if matches!(p, Some(p) if !(0.0..=1.0).contains(&p)) {
        return Err(SippError::InvalidRequest("min_p must be within [0, 1]".into()));
    }
    Ok(())
}

/// Options only local endpoints accept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
        fields_set(self)
    }
}

/// Embedding options only local endpoints accept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
        fields_set(self)
    }
}

/// Field names of every local-only bucket: what a remote endpoint or a gateway body must
/// refuse rather than drop.
#[must_use]
pub fn local_only_fields() -> Vec<&'static str> {
    let mut names = field_names::<LocalTextOptions>().to_vec();
    for name in field_names::<LocalEmbedOptions>() {
        if !names.contains(name) {
            names.push(name);
        }
    }
    names
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
