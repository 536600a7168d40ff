//! Shared set-up for the model-backed tests: the default model (fetched and verified
//! on first use) and small request builders.
#![allow(dead_code)]

use sipp::engine::NativeRuntimeConfig;
use sipp::{
    ChatMessage, ChatRole, EndpointDescriptor, EndpointRef, SippChatRequest, SippClient, SippQueryRequest,
    SippTextOptions,
};
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
