//! Every bad input gets its typed error and leaves the client usable.

mod common;

use common::*;
use sipp::engine::{LogitBias, NativeRuntimeConfig};
use sipp::{
    Backend, EndpointDescriptor, EndpointKind, EndpointRef, FinishReason, LocalModelDescriptor, SippClient,
    SippEmbedRequest, SippQueryRequest, SippTextOptions,
};

fn code<T: std::fmt::Debug>(r: sipp::Result<T>) -> &'static str {
    r.expect_err("expected an error").code()
}

#[tokio::test]
async fn missing_and_non_gguf_files_fail_at_add() {
    let client = SippClient::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = client.add("m", EndpointDescriptor::local(dir.path().join("nope.gguf"), Default::default())).await;
    assert_eq!(code(missing), "model_not_found");
    let text = dir.path().join("readme.gguf");
    std::fs::write(&text, "definitely not a model").unwrap();
    let bad = client.add("m", EndpointDescriptor::local(&text, Default::default())).await;
    let err = bad.unwrap_err();
    assert_eq!(err.code(), "not_gguf");
    assert!(err.to_string().contains("readme.gguf"), "{err}");
    assert!(client.endpoints().is_empty());
}

#[tokio::test]
async fn chat_on_a_model_without_template_says_use_query() {
    // The default model with its chat template key renamed: a model without one.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(model()).unwrap();
    let key = b"tokenizer.chat_template";
    let at = bytes.windows(key.len()).position(|w| w == key).expect("template key");
    bytes[at + key.len() - 1] = b'X';
    let path = dir.path().join("no-template.gguf");
    std::fs::write(&path, bytes).unwrap();

    let client = SippClient::new();
    let ep = client.add("base", EndpointDescriptor::local(&path, small_config())).await.unwrap();
    assert!(!client.endpoint_info(&ep).unwrap().has_chat_template);
    let err = client.chat(chat_user(&ep, "hi", greedy(4))).await.unwrap_err();
    assert_eq!(err.code(), "chat_template_missing");
    assert!(err.to_string().contains("use query"), "{err}");
    // query still works on it
    let r = client.query(query(&ep, "The sky is", greedy(4))).await.unwrap();
    assert_eq!(r.usage.unwrap().output_tokens, 4);
}

#[tokio::test]
async fn wrong_operation_unknown_and_ambiguous_endpoints() {
    let client = SippClient::new();
    let a = text_endpoint(&client, "a").await;
    assert_eq!(a.kind, EndpointKind::Local);

    let embed = client.embed(SippEmbedRequest { endpoint: Some(a.clone()), input: "x".into(), ..Default::default() });
    assert_eq!(code(embed.await), "unsupported_operation");

    let ghost = EndpointRef { kind: EndpointKind::Local, id: "ghost".into() };
    assert_eq!(code(client.query(query(&ghost, "x", greedy(2))).await), "unknown_endpoint");

    // One text endpoint: `endpoint` may be omitted.
    let only = client.query(SippQueryRequest { prompt: "Hi".into(), options: greedy(2), ..Default::default() });
    assert!(only.await.is_ok());
    // No embedding endpoint at all.
    let none = client.embed(SippEmbedRequest { input: "x".into(), ..Default::default() });
    assert_eq!(code(none.await), "endpoint_required");

    text_endpoint(&client, "b").await;
    let ambiguous = client.query(SippQueryRequest { prompt: "Hi".into(), options: greedy(2), ..Default::default() });
    let err = ambiguous.await.unwrap_err();
    assert_eq!(err.code(), "endpoint_required");
    assert!(err.to_string().contains("2 local endpoints"), "{err}");
}

#[tokio::test]
async fn invalid_options_are_rejected_before_running() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "a").await;
    let bad_temp = SippTextOptions { temperature: Some(-1.0), ..Default::default() };
    assert_eq!(code(client.query(query(&ep, "x", bad_temp)).await), "invalid_request");
    let bad_top_p = SippTextOptions { top_p: Some(1.5), ..Default::default() };
    assert_eq!(code(client.query(query(&ep, "x", bad_top_p)).await), "invalid_request");
    assert_eq!(code(client.query(query(&ep, "", greedy(2))).await), "invalid_request");
    let mut provider = query(&ep, "x", greedy(2));
    provider.provider_options.insert("reasoning_effort".into(), "low".into());
    assert_eq!(code(client.query(provider).await), "invalid_request");
    let huge = "word ".repeat(5000);
    assert_eq!(code(client.query(query(&ep, &huge, greedy(2))).await), "context_overflow");
    // Still healthy.
    assert!(client.query(query(&ep, "Hi", greedy(2))).await.is_ok());
}

#[tokio::test]
async fn unbuilt_config_and_uncompiled_backends_fail_at_add() {
    let client = SippClient::new();
    let mut config = NativeRuntimeConfig::default();
    config.multimodal.projector_path = Some("mmproj.gguf".into());
    let err = client.add("v", EndpointDescriptor::local(model(), config)).await.unwrap_err();
    assert_eq!(err.code(), "not_supported");
    assert!(err.to_string().contains("not supported yet"), "{err}");

    if !Backend::Vulkan.is_compiled() {
        let d = LocalModelDescriptor { model_path: model(), config: Default::default(), backend: Backend::Vulkan };
        let err = client.add("gpu", d).await.unwrap_err();
        assert_eq!(err.code(), "backend_unavailable");
        assert!(err.to_string().contains("available: cpu"), "{err}");
    }
}

#[tokio::test]
async fn replacing_an_endpoint_closes_the_old_one_cleanly() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "a").await;
    let mut long = query(&ep, &chatml("Write a very long story."), greedy(400));
    long.emit_tokens = true;
    let mut run = client.query(long);
    assert!(futures_util::StreamExt::next(&mut run).await.is_some());
    let ep2 = text_endpoint(&client, "a").await;
    assert_eq!(ep, ep2);
    match run.response().await {
        Err(e) => assert_eq!(e.code(), "endpoint_closed"),
        Ok(r) => assert_ne!(r.finish_reason, FinishReason::Length, "old engine kept running"),
    }
    assert!(client.query(query(&ep2, "Hi", greedy(2))).await.is_ok());
    assert_eq!(client.endpoints().len(), 1);
    client.close();
    assert_eq!(code(client.query(query(&ep2, "Hi", greedy(2))).await), "unknown_endpoint");
}

#[tokio::test]
async fn truncated_models_say_so() {
    let whole = std::fs::read(model()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = SippClient::new();
    for cut in [1 << 20, 50 << 20] {
        let path = dir.path().join(format!("cut-{cut}.gguf"));
        std::fs::write(&path, &whole[..cut]).unwrap();
        let err = client.add("t", EndpointDescriptor::local(&path, Default::default())).await.unwrap_err();
        assert_eq!(err.code(), "model_load");
        assert!(err.to_string().contains("the file is truncated"), "{err}");
    }
    assert!(client.endpoints().is_empty());
}

#[tokio::test]
async fn logit_bias_outside_the_vocabulary_is_refused_per_request() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "a").await;
    for token in [1_000_000_000, -1] {
        let mut req = query(&ep, "Hi", greedy(2));
        req.local.sampling = Some(sipp::engine::SamplingRuntimeConfig {
            logit_bias: Some(vec![LogitBias { token, bias: 1.0 }]),
            ..Default::default()
        });
        let err = client.query(req).await.unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(err.to_string().contains("not in the model's vocabulary"), "{err}");
    }
}

/// Typos that used to take the machine down (24 GB RSS, or a hang) fail at `add`.
#[tokio::test]
async fn absurd_context_and_thread_counts_fail_at_add() {
    let client = SippClient::new();
    let started = std::time::Instant::now();
    let mut config = NativeRuntimeConfig::default();
    config.context.n_ctx = Some(1 << 31);
    let err = client.add("big", EndpointDescriptor::local(model(), config.clone())).await.unwrap_err();
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("context.n_ctx"), "{err}");
    config.context.kv_unified = Some(true);
    let err = client.add("big", EndpointDescriptor::local(model(), config)).await.unwrap_err();
    assert!(err.to_string().contains("KV cache") && err.to_string().contains("available"), "{err}");

    let mut config = NativeRuntimeConfig::default();
    config.context.n_threads = Some(10_000);
    let err = client.add("threads", EndpointDescriptor::local(model(), config)).await.unwrap_err();
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("n_threads = 10000"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "refused before allocating");
    assert!(client.endpoints().is_empty());
}
