//! Embeddings from a local endpoint loaded with `context.embeddings = true`: a causal chat
//! LM, and a real sentence-embedding model checked against independent reference vectors.

mod common;

use common::*;
use sipp::engine::{ContextRuntimeConfig, NativeRuntimeConfig, PoolingType};
use sipp::{EndpointDescriptor, EndpointRef, LocalEmbedOptions, SippClient, SippEmbedRequest};

fn embed_config() -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        context: ContextRuntimeConfig {
            n_ctx: Some(512),
            embeddings: Some(true),
            pooling: Some(PoolingType::Mean),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn normalized_embeddings_rank_a_paraphrase_above_an_unrelated_sentence() {
    let client = SippClient::new();
    let ep = client.add("embed", EndpointDescriptor::local(model(), embed_config())).await.unwrap();
    let embed = |text: &str| {
        client.embed(SippEmbedRequest {
            endpoint: Some(ep.clone()),
            input: text.into(),
            local: LocalEmbedOptions { normalize: Some(true), ..Default::default() },
            ..Default::default()
        })
    };
    let a = embed("The cat is sleeping on the sofa.").await.unwrap();
    let b = embed("A cat naps on the couch.").await.unwrap();
    let c = embed("Quarterly tax filings are due in April.").await.unwrap();
    assert!(a.normalized && a.pooling == Some(PoolingType::Mean));
    assert_eq!(a.values.len(), 576);
    let norm: f32 = a.values.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    let (near, far) = (cosine(&a.values, &b.values), cosine(&a.values, &c.values));
    assert!(near > far, "paraphrase {near} <= unrelated {far}");
    assert!(a.usage.unwrap().input_tokens > 3);
}

#[tokio::test]
async fn unnormalized_embeddings_are_left_alone_and_endpoint_can_be_omitted() {
    let client = SippClient::new();
    client.add("embed", EndpointDescriptor::local(model(), embed_config())).await.unwrap();
    // The only embedding endpoint, so `endpoint` may be omitted.
    let r = client.embed(SippEmbedRequest { input: "hello world".into(), ..Default::default() }).await.unwrap();
    assert!(!r.normalized);
    let norm: f32 = r.values.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "raw vector happens to be unit norm: {norm}");
}

fn embed_request(ep: &EndpointRef, text: &str) -> SippEmbedRequest {
    SippEmbedRequest {
        endpoint: Some(ep.clone()),
        input: text.into(),
        local: LocalEmbedOptions { normalize: Some(true), ..Default::default() },
        ..Default::default()
    }
}

fn minilm_config(n_ubatch: Option<u32>) -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        context: ContextRuntimeConfig {
            embeddings: Some(true),
            pooling: Some(PoolingType::Mean),
            n_batch: n_ubatch,
            n_ubatch,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// all-MiniLM-L6-v2 through Sipp matches a NumPy forward pass of the same weights, for
/// short inputs and for a 502-token one (nothing truncated), with [CLS] and [SEP] added.
#[tokio::test]
async fn sentence_embeddings_match_an_independent_reference() {
    let (model, reference) = minilm();
    let client = SippClient::new();
    let ep = client.add("minilm", EndpointDescriptor::local(&model, minilm_config(None))).await.unwrap();
    let info = client.endpoint_info(&ep).unwrap();
    assert_eq!((info.architecture.as_str(), info.n_embd, info.max_input_tokens), ("bert", 384, 512));
    for ((sentence, expected), tokens) in reference.sentences.iter().zip(&reference.vectors).zip(&reference.tokens) {
        let r = client.embed(embed_request(&ep, sentence)).await.unwrap();
        assert_eq!(r.usage.unwrap().input_tokens, *tokens, "{sentence:.40}");
        let similarity = cosine(&r.values, expected);
        assert!(similarity >= 0.99, "cosine {similarity} for {sentence:.40}");
    }
    // Similar sentences rank above unrelated ones.
    let v: Vec<_> = reference.sentences[..3].iter().map(|s| embed_request(&ep, s)).collect();
    let mut out = Vec::new();
    for req in v {
        out.push(client.embed(req).await.unwrap().values);
    }
    assert!(cosine(&out[0], &out[1]) > cosine(&out[0], &out[2]) + 0.3);
}

/// Inputs embedded together in one batch equal the same inputs embedded alone.
#[tokio::test]
async fn batched_sentence_embeddings_equal_serial_ones() {
    let (model, reference) = minilm();
    let client = SippClient::new();
    let ep = client.add("minilm", EndpointDescriptor::local(&model, minilm_config(None))).await.unwrap();
    let short = &reference.sentences[..4];
    let runs: Vec<_> = short.iter().map(|s| client.embed(embed_request(&ep, s))).collect();
    let together = futures_util::future::join_all(runs.into_iter().map(sipp::SippEmbeddingRun::response)).await;
    assert!(client.endpoint_stats(&ep).unwrap().max_batch_sequences > 1, "the inputs shared a decode");
    for (sentence, batched) in short.iter().zip(together) {
        let alone = client.embed(embed_request(&ep, sentence)).await.unwrap();
        assert!(cosine(&alone.values, &batched.unwrap().values) > 0.9999);
    }
}

/// A micro-batch smaller than the input cannot pool it whole: a typed error naming the
/// setting, never a vector of the first ubatch only.
#[tokio::test]
async fn inputs_longer_than_the_micro_batch_fail_naming_it() {
    let (model, reference) = minilm();
    let client = SippClient::new();
    let ep = client.add("minilm", EndpointDescriptor::local(&model, minilm_config(Some(64)))).await.unwrap();
    assert_eq!(client.endpoint_info(&ep).unwrap().max_input_tokens, 64);
    let err = client.embed(embed_request(&ep, &reference.sentences[4])).await.unwrap_err();
    assert_eq!(err.code(), "context_overflow");
    assert!(err.to_string().contains("context.n_ubatch = 64"), "{err}");
    let short = client.embed(embed_request(&ep, &reference.sentences[0])).await.unwrap();
    assert!(cosine(&short.values, &reference.vectors[0]) >= 0.99);
}

#[tokio::test]
async fn per_token_pooling_is_refused_at_add() {
    let (model, _) = minilm();
    let client = SippClient::new();
    let mut config = minilm_config(None);
    config.context.pooling = Some(PoolingType::None);
    let err = client.add("minilm", EndpointDescriptor::local(&model, config)).await.unwrap_err();
    assert_eq!(err.code(), "not_supported");
    assert!(err.to_string().contains("context.pooling = none"), "{err}");
}

/// Special tokens follow the model's metadata: the default model with
/// `tokenizer.ggml.add_bos_token = false` rewritten as `add_eos_token = true` gets an EOS
/// appended to every embedding input (last-token pooling models read that token).
#[tokio::test]
async fn eos_is_added_when_the_metadata_asks() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(model()).unwrap();
    let key = b"tokenizer.ggml.add_bos_token";
    let at = bytes.windows(key.len()).position(|w| w == key).expect("add_bos_token key");
    bytes[at + "tokenizer.ggml.add_".len()] = b'e';
    let value = at + key.len() + 4; // after the u32 type tag (7: bool)
    assert_eq!((bytes[value - 4], bytes[value]), (7, 0));
    bytes[value] = 1;
    let with_eos = dir.path().join("add-eos.gguf");
    std::fs::write(&with_eos, bytes).unwrap();

    let client = SippClient::new();
    let plain = client.add("plain", EndpointDescriptor::local(model(), embed_config())).await.unwrap();
    let eos = client.add("eos", EndpointDescriptor::local(&with_eos, embed_config())).await.unwrap();
    let tokens = |ep: &EndpointRef| {
        let req = embed_request(ep, "hello world");
        let client = &client;
        async move { client.embed(req).await.unwrap().usage.unwrap().input_tokens }
    };
    assert_eq!(tokens(&eos).await, tokens(&plain).await + 1);
}
