//! The determinism matrix on the real default model: every prompt of
//! `tests/data/determinism_prompts.json` (21 prompts, 5 to 1,500+ tokens, several sharing
//! long prefixes) answers exactly as it does cold and alone, whatever path it takes —
//! a live slot's prefix with a one-token remainder, a partial prefix, a RAM snapshot, a
//! disk snapshot after a restart, chunked prefill, `decode_first` shares, prefill beside
//! 1–15 running streams, any slot and batch order. Greedy and seeded sampling both.
//!
//! What it asserts is what `context.deterministic` (on by default on the CPU) guarantees
//! on every CPU: the comparison is always against this machine's own cold answer, never
//! a text recorded elsewhere.

mod common;

use common::*;
use futures_util::future::join_all;
use sipp::engine::{
    CacheRuntimeConfig, ContextRuntimeConfig, KvReuseMode, NativeRuntimeConfig, SchedulerPolicy, SchedulerRuntimeConfig,
};
use sipp::{EndpointDescriptor, EndpointRef, SippClient, SippTextOptions};
use std::path::Path;

const N_CTX: u32 = 2048;
const MAX_TOKENS: u32 = 12;

fn prompts() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/determinism_prompts.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

/// Greedy for most prompts; every third one samples with a fixed seed, which must be
/// just as reproducible.
fn options(i: usize) -> SippTextOptions {
    if i % 3 == 2 {
        SippTextOptions {
            max_tokens: Some(MAX_TOKENS),
            temperature: Some(0.8),
            seed: Some(7 + i as u32),
            ..Default::default()
        }
    } else {
        greedy(MAX_TOKENS)
    }
}

fn config(slots: u32, cache: CacheRuntimeConfig, policy: SchedulerPolicy, chunk: u32) -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        context: ContextRuntimeConfig { n_ctx: Some(N_CTX), ..Default::default() },
        scheduler: SchedulerRuntimeConfig {
            max_running_requests: Some(slots),
            policy,
            prefill_chunk_size: chunk,
            ..Default::default()
        },
        cache,
        ..Default::default()
    }
}

fn cache(mode: KvReuseMode, dir: Option<&Path>) -> CacheRuntimeConfig {
    CacheRuntimeConfig { mode, snapshot_dir: dir.map(Path::to_path_buf), ..Default::default() }
}

async fn add(client: &SippClient, id: &str, config: NativeRuntimeConfig) -> EndpointRef {
    let ep = client.add(id, EndpointDescriptor::local(model(), config)).await.expect("load model");
    assert!(client.endpoint_info(&ep).unwrap().deterministic, "deterministic is the CPU default");
    ep
}

/// One prompt at a time, in order.
async fn one_by_one(client: &SippClient, ep: &EndpointRef, prompts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        out.push(client.query(query(ep, p, options(i))).await.unwrap().text);
    }
    out
}

/// Every prompt submitted at once: the engine runs as many as it has slots, admits the
/// rest as others finish, and prefills them beside running streams.
async fn all_at_once(client: &SippClient, ep: &EndpointRef, prompts: &[String]) -> Vec<String> {
    let runs = prompts.iter().enumerate().map(|(i, p)| client.query(query(ep, p, options(i))).response());
    join_all(runs).await.into_iter().map(|r| r.unwrap().text).collect()
}

fn assert_same(path: &str, reference: &[String], got: &[String], lengths: &[u32]) {
    let differ: Vec<String> = reference
        .iter()
        .zip(got)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("prompt {i} ({} tokens): cold {a:?}, {path} {b:?}", lengths[i]))
        .collect();
    assert!(differ.is_empty(), "{path}: {} of {} answers changed:\n{}", differ.len(), got.len(), differ.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_path_answers_as_the_cold_lone_prefill() {
    let prompts = prompts();
    assert!(prompts.len() >= 20);
    let client = SippClient::new();

    // The reference: no cache, one request at a time, each prompt prefilled whole.
    let cold = add(&client, "cold", config(1, cache(KvReuseMode::None, None), SchedulerPolicy::Fcfs, 0)).await;
    let mut reference = Vec::new();
    let mut lengths = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        let r = client.query(query(&cold, p, options(i))).await.unwrap();
        lengths.push(r.usage.unwrap().input_tokens);
        reference.push(r.text);
    }
    assert!(client.remove(&cold));
    let (shortest, longest) = (lengths.iter().min().unwrap(), lengths.iter().max().unwrap());
    assert!(*shortest <= 6 && (1_500..=1_700).contains(longest), "prompt lengths {lengths:?}");
    eprintln!("prompt lengths: {lengths:?}");

    // 1 at a time, live-slot reuse: shared prefixes are reused (partial prefix + rest),
    // and each prompt asked again is served whole from the slot but its last token.
    let live =
        add(&client, "live", config(2, cache(KvReuseMode::LiveSlotPrefix, None), SchedulerPolicy::Fcfs, 0)).await;
    let mut twice = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        twice.push(client.query(query(&live, p, options(i))).await.unwrap().text);
        let again = client.query(query(&live, p, options(i))).await.unwrap();
        assert_eq!(again.local_stats.unwrap().cached_prompt_tokens + 1, lengths[i], "prompt {i} was reused whole");
        assert_eq!(again.text, reference[i], "prompt {i} ({} tokens) answered from a live slot", lengths[i]);
    }
    assert_same("1 at a time, live-slot prefixes", &reference, &twice, &lengths);
    assert!(client.endpoint_stats(&live).unwrap().reused_prompt_tokens > 10_000);
    assert!(client.remove(&live));

    // 4 at once, snapshots in RAM, decode_first prompt shares; then again, when most
    // prefixes come back from snapshots (restored into whichever slot is free).
    let ram = add(&client, "ram", config(4, cache(KvReuseMode::Snapshot, None), SchedulerPolicy::DecodeFirst, 0)).await;
    assert_same("4 at once, decode_first", &reference, &all_at_once(&client, &ram, &prompts).await, &lengths);
    assert_same("4 at once, from RAM snapshots", &reference, &all_at_once(&client, &ram, &prompts).await, &lengths);
    let stats = client.endpoint_stats(&ram).unwrap();
    assert!(stats.snapshot_restores >= 4 && stats.max_batch_sequences == 4, "{stats:?}");
    assert!(client.remove(&ram));

    // 16 at once, 48-token prefill chunks, snapshots on disk: prompts prefill piece by
    // piece beside 1–15 running streams. Then a new endpoint (a restart) on the same
    // directory answers from the persisted states, 16 at once and one by one.
    let dir = tempfile::tempdir().unwrap();
    let disk_config = || config(16, cache(KvReuseMode::Snapshot, Some(dir.path())), SchedulerPolicy::Fcfs, 48);
    let disk = add(&client, "disk", disk_config()).await;
    assert_same("16 at once, 48-token chunks", &reference, &all_at_once(&client, &disk, &prompts).await, &lengths);
    assert!(client.endpoint_stats(&disk).unwrap().max_batch_sequences > 8);
    // Other traffic takes every slot, so each prompt's state is snapshotted and written.
    let filler: Vec<String> = (0..16).map(|i| format!("Filler request number {i} asks about the weather:")).collect();
    all_at_once(&client, &disk, &filler).await;
    assert!(client.endpoint_stats(&disk).unwrap().snapshots_taken >= 16);
    client.close();

    let client = SippClient::new();
    let restarted =
        add(&client, "restarted", config(16, cache(KvReuseMode::Snapshot, Some(dir.path())), SchedulerPolicy::Fcfs, 0))
            .await;
    assert!(client.endpoint_stats(&restarted).unwrap().snapshot_entries >= 8);
    assert_same("after a restart, 16 at once", &reference, &all_at_once(&client, &restarted, &prompts).await, &lengths);
    assert!(client.endpoint_stats(&restarted).unwrap().snapshot_restores >= 8);
    assert_same("after a restart, one by one", &reference, &one_by_one(&client, &restarted, &prompts).await, &lengths);
    client.close();
}
