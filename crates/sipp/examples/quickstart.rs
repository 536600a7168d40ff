//! The spec's "Rust Local" quickstart, kept verbatim inside `main` so it keeps compiling.
//!
//!     cargo run --release -p sipp-rs --example quickstart -- CHAT.gguf EMBED.gguf
//!
//! Both paths default to the cached default model (`cargo xtask models`).
#![allow(unused_mut)]

use sipp::engine::{ChatMessage, ChatRole, ContextRuntimeConfig, NativeRuntimeConfig, PoolingType};
use sipp::{
    EndpointDescriptor, LocalEmbedOptions, LocalTextOptions, SippChatRequest, SippClient, SippEmbedRequest,
    SippQueryRequest, SippTextOptions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let default = sipp_models::models_dir().join(sipp_models::MODEL_FILE);
    let mut args = std::env::args().skip(1);
    let chat_gguf = args.next().map_or_else(|| default.clone(), Into::into);
    let embed_gguf = args.next().map_or(default, Into::into);

    let mut client = SippClient::new();
    let messages = vec![
        ChatMessage::new(ChatRole::System, "Answer concisely."),
        ChatMessage::new(ChatRole::User, "Explain local Rust inference."),
    ];
    let query_prompt =
        ["<|system|>", "Answer concisely.", "<|user|>", "Explain local Rust inference.", "<|assistant|>"].join("\n");
    let text_options = SippTextOptions { max_tokens: Some(64), ..Default::default() };

    let text_endpoint = client.add("text", EndpointDescriptor::local(chat_gguf, Default::default())).await?;

    // query: raw prompt; replace markers with the target model's template.
    let query = client
        .query(SippQueryRequest {
            endpoint: Some(text_endpoint.clone()),
            prompt: query_prompt,
            options: text_options.clone(),
            local: LocalTextOptions { context_key: Some("rust-query".to_string()), ..Default::default() },
            ..Default::default()
        })
        .await?;

    // chat: role messages; local runtime uses tokenizer.chat_template.
    let chat = client
        .chat(SippChatRequest {
            endpoint: Some(text_endpoint),
            messages,
            options: text_options,
            local: LocalTextOptions { context_key: Some("rust-chat".to_string()), ..Default::default() },
            ..Default::default()
        })
        .await?;

    let embed_endpoint = client.add("embed", EndpointDescriptor::local(embed_gguf, embed_config())).await?;

    // embed: vector output; local endpoint must be embedding-capable.
    let embedding = client
        .embed(SippEmbedRequest {
            endpoint: Some(embed_endpoint),
            input: "Sipp embedding input.".to_string(),
            local: LocalEmbedOptions { context_key: Some("rust-embed".to_string()), normalize: Some(true) },
            ..Default::default()
        })
        .await?;

    println!("{}, {}, {}", query.text, chat.text, embedding.values.len());
    Ok(())
}

fn embed_config() -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        context: ContextRuntimeConfig {
            n_ctx: Some(2048),
            embeddings: Some(true),
            pooling: Some(PoolingType::Mean),
            ..Default::default()
        },
        ..Default::default()
    }
}
