//! Embeddings from a local endpoint loaded with `context.embeddings = true`.

mod common;

use common::*;
use sipp::engine::{ContextRuntimeConfig, NativeRuntimeConfig, PoolingType};
use sipp::{EndpointDescriptor, LocalEmbedOptions, SippClient, SippEmbedRequest};

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

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
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
    assert!(a.normalized && a.pooling == PoolingType::Mean);
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
    let r = client
        .embed(SippEmbedRequest { input: "hello world".into(), ..Default::default() })
        .await
        .unwrap();
    assert!(!r.normalized);
    let norm: f32 = r.values.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "raw vector happens to be unit norm: {norm}");
}
