//! Shared set-up for the model-backed tests: the default model (fetched and verified
//! on first use) and small request builders.
#![allow(dead_code)]

use sipp::engine::NativeRuntimeConfig;
use sipp::engine::{ChatMessage, ChatRole};
use sipp::{EndpointDescriptor, EndpointRef, SippChatRequest, SippClient, SippQueryRequest, SippTextOptions};
use std::path::PathBuf;

pub fn model() -> PathBuf {
    sipp_models::default_model().expect("default model")
}

/// Defaults: 8 sequences with 1024-token windows each.
pub fn small_config() -> NativeRuntimeConfig {
    NativeRuntimeConfig::default()
}

pub async fn text_endpoint(client: &SippClient, id: &str) -> EndpointRef {
    client.add(id, EndpointDescriptor::local(model(), small_config())).await.expect("load model")
}

pub fn greedy(max_tokens: u32) -> SippTextOptions {
    SippTextOptions { max_tokens: Some(max_tokens), temperature: Some(0.0), ..Default::default() }
}

pub fn query(endpoint: &EndpointRef, prompt: &str, options: SippTextOptions) -> SippQueryRequest {
    SippQueryRequest { endpoint: Some(endpoint.clone()), prompt: prompt.into(), options, ..Default::default() }
}

/// A concise-assistant chat: the system turn keeps the 135M model on topic.
pub fn chat_user(endpoint: &EndpointRef, content: &str, options: SippTextOptions) -> SippChatRequest {
    SippChatRequest {
        endpoint: Some(endpoint.clone()),
        messages: vec![
            ChatMessage::new(ChatRole::System, "Answer concisely."),
            ChatMessage::new(ChatRole::User, content),
        ],
        options,
        ..Default::default()
    }
}

/// ChatML prompt for the default model, as a `query` caller would render it.
pub fn chatml(user: &str) -> String {
    format!("<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
}

/// The test sentence-embedding model (all-MiniLM-L6-v2, F16 GGUF) built by
/// `tests/models/minilm.py`, with reference vectors computed without llama.cpp.
pub fn minilm() -> (PathBuf, MiniLmReference) {
    let dir = sipp_models::models_dir();
    let model = dir.join("all-MiniLM-L6-v2.F16.gguf");
    let reference = dir.join("all-MiniLM-L6-v2.reference.json");
    let text = std::fs::read_to_string(&reference)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask models`", reference.display()));
    (model, serde_json::from_str(&text).expect("reference JSON"))
}

#[derive(Debug, serde::Deserialize)]
pub struct MiniLmReference {
    pub sentences: Vec<String>,
    /// Token counts with [CLS] and [SEP].
    pub tokens: Vec<u32>,
    /// Mean-pooled, L2-normalized.
    pub vectors: Vec<Vec<f32>>,
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}
