//! Builds each sequence's sampler chain from endpoint defaults plus request overrides.
//!
//! The chain's `sample` call also accepts the chosen token into every stage (grammar,
//! penalties, mirostat state); calling `accept` again would corrupt grammar state and
//! double-count penalties, so the engine never does.

use crate::error::{Result, SippError};
use crate::types::{SamplerStage, SamplingRuntimeConfig};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;

/// llama.cpp's "pick a random seed" value.
const RANDOM_SEED: u32 = u32::MAX;
const DEFAULT_STAGES: [SamplerStage; 5] =
    [SamplerStage::Penalties, SamplerStage::TopK, SamplerStage::TopP, SamplerStage::MinP, SamplerStage::Temperature];

/// Endpoint defaults overlaid by request values (request wins field by field).
pub(crate) fn merge(defaults: &SamplingRuntimeConfig, request: &SamplingRuntimeConfig) -> SamplingRuntimeConfig {
    SamplingRuntimeConfig {
        samplers: request.samplers.clone().or_else(|| defaults.samplers.clone()),
        seed: request.seed.or(defaults.seed),
        top_k: request.top_k.or(defaults.top_k),
        top_p: request.top_p.or(defaults.top_p),
        min_p: request.min_p.or(defaults.min_p),
        temperature: request.temperature.or(defaults.temperature),
        repeat_penalty: request.repeat_penalty.or(defaults.repeat_penalty),
        repeat_last_n: request.repeat_last_n.or(defaults.repeat_last_n),
        mirostat: request.mirostat.or(defaults.mirostat),
        logit_bias: request.logit_bias.clone().or_else(|| defaults.logit_bias.clone()),
    }
}

/// A fresh chain for one sequence. `grammar` (GBNF) goes first so every later stage
/// only sees tokens the grammar allows.
pub(crate) fn build(model: &LlamaModel, s: &SamplingRuntimeConfig, grammar: Option<&str>) -> Result<LlamaSampler> {
    let n_vocab = model.n_vocab();
    let mut chain = Vec::new();
    if let Some(gbnf) = grammar {
        chain.push(
            LlamaSampler::grammar(model, gbnf, "root")
                .map_err(|e| SippError::Grammar(format!("{e}; check the GBNF (root rule `root`)")))?,
        );
    }
    if let Some(biases) = s.logit_bias.as_ref().filter(|b| !b.is_empty()) {
        let biases: Vec<LlamaLogitBias> =
            biases.iter().map(|b| LlamaLogitBias::new(LlamaToken(b.token), b.bias)).collect();
        chain.push(LlamaSampler::logit_bias(n_vocab, &biases));
    }
    let seed = s.seed.unwrap_or(RANDOM_SEED);
    let temperature = s.temperature.unwrap_or(0.8);
    if temperature <= 0.0 {
        if let Some(p) = penalties(s, n_vocab) {
            chain.push(p);
        }
        chain.push(LlamaSampler::greedy());
        return Ok(LlamaSampler::chain_simple(chain));
    }
    if let Some(m) = s.mirostat {
        if let Some(p) = penalties(s, n_vocab) {
            chain.push(p);
        }
        chain.push(LlamaSampler::temp(temperature));
        chain.push(match m.version {
            1 => LlamaSampler::mirostat(n_vocab, seed, m.tau, m.eta, 100),
            _ => LlamaSampler::mirostat_v2(seed, m.tau, m.eta),
        });
        return Ok(LlamaSampler::chain_simple(chain));
    }
    let stages = s.samplers.as_deref().unwrap_or(&DEFAULT_STAGES);
    for stage in stages {
        match stage {
            SamplerStage::Penalties => chain.extend(penalties(s, n_vocab)),
            SamplerStage::TopK => chain.push(LlamaSampler::top_k(s.top_k.unwrap_or(40))),
            SamplerStage::TopP => chain.push(LlamaSampler::top_p(s.top_p.unwrap_or(0.95), 1)),
            SamplerStage::MinP => chain.push(LlamaSampler::min_p(s.min_p.unwrap_or(0.05), 1)),
            SamplerStage::Temperature => chain.push(LlamaSampler::temp(temperature)),
        }
    }
    chain.push(LlamaSampler::dist(seed));
    Ok(LlamaSampler::chain_simple(chain))
}

fn penalties(s: &SamplingRuntimeConfig, n_vocab: i32) -> Option<LlamaSampler> {
    let repeat = s.repeat_penalty.unwrap_or(1.0);
    // A penalty of 1.0 is the identity; skip the stage rather than pay for it.
    ((repeat - 1.0).abs() > f32::EPSILON)
        .then(|| LlamaSampler::penalties(n_vocab, s.repeat_last_n.unwrap_or(64), repeat, 0.0, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_overrides_field_by_field() {
        let defaults = SamplingRuntimeConfig { temperature: Some(0.7), top_k: Some(20), ..Default::default() };
        let request = SamplingRuntimeConfig { temperature: Some(0.0), ..Default::default() };
        let m = merge(&defaults, &request);
        assert_eq!(m.temperature, Some(0.0));
        assert_eq!(m.top_k, Some(20));
    }
}
