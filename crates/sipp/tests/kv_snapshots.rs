//! `cache.mode = "snapshot"` on the real default model: a long shared prefix stays warm
//! after other prompts took every slot (restored from host RAM into whichever slot is
//! free), the greedy answer is the same as the cold one, and the limits hold.

mod common;

use common::*;
use sipp::engine::{CacheRuntimeConfig, KvReuseMode, NativeRuntimeConfig, SchedulerRuntimeConfig};
use sipp::{EndpointDescriptor, EndpointRef, SippClient};

/// A long system prompt an agent would resend (a few hundred tokens).
fn system_prompt() -> String {
    let rules: Vec<String> = (1..=24)
        .map(|i| format!("Rule {i}: answer in plain English, cite the policy section {i}, and never guess."))
        .collect();
    format!("<|im_start|>system\nYou are a support agent. {}<|im_end|>\n", rules.join(" "))
}

fn ask(question: &str) -> String {
    format!("{}<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n", system_prompt())
}

async fn endpoint(client: &SippClient, mode: KvReuseMode, entries: Option<u32>) -> EndpointRef {
    let config = NativeRuntimeConfig {
        scheduler: SchedulerRuntimeConfig { max_running_requests: Some(2), ..Default::default() },
        cache: CacheRuntimeConfig { mode, max_snapshot_entries: entries, ..Default::default() },
        ..Default::default()
    };
    client.add(format!("{mode:?}"), EndpointDescriptor::local(model(), config)).await.expect("load model")
}

/// Unrelated prompts, one after another: none shares a first token with another or with
/// the agent's prompts, so each takes the least recently used slot in turn.
async fn other_traffic(client: &SippClient, ep: &EndpointRef, n: usize) {
    for word in ["Oceans", "Mountains", "Rivers", "Forests", "Deserts"].into_iter().take(n) {
        let p = format!("{word} are the subject of this short poem:");
        client.query(query(ep, &p, greedy(4))).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_displaced_prefix_is_restored_and_answers_the_same() {
    let client = SippClient::new();
    let ep = endpoint(&client, KvReuseMode::Snapshot, None).await;
    let prompt = ask("How do I reset my password?");
    let cold = client.query(query(&ep, &prompt, greedy(16))).await.unwrap();
    let cold_stats = cold.local_stats.unwrap();
    assert!(cold_stats.prefill_tokens > 300, "{cold_stats:?}");
    assert_eq!(cold_stats.cached_prompt_tokens, 0);
    other_traffic(&client, &ep, 3).await;
    let stats = client.endpoint_stats(&ep).unwrap();
    assert!(stats.snapshots_taken >= 1 && stats.snapshot_entries >= 1 && stats.snapshot_bytes > 0, "{stats:?}");

    let warm = client.query(query(&ep, &prompt, greedy(16))).await.unwrap();
    assert_eq!(warm.text, cold.text, "a restored prefix must not change the greedy answer");
    let warm_stats = warm.local_stats.unwrap();
    assert_eq!(warm_stats.cached_prompt_tokens + 1, cold_stats.prefill_tokens, "{warm_stats:?}");
    let after = client.endpoint_stats(&ep).unwrap();
    assert_eq!(after.snapshot_restores, 1, "{after:?}");
    assert_eq!(after.snapshot_restored_tokens, u64::from(warm_stats.cached_prompt_tokens));

    // Same system prompt, another question: the shared part is restored, the rest prefilled.
    let other = client.query(query(&ep, &ask("Where can I see my invoices?"), greedy(16))).await.unwrap();
    let other_stats = other.local_stats.unwrap();
    assert!(other_stats.cached_prompt_tokens > 300, "{other_stats:?}");
    let plain = endpoint(&client, KvReuseMode::None, None).await;
    let reference = client.query(query(&plain, &ask("Where can I see my invoices?"), greedy(16))).await.unwrap();
    assert_eq!(other.text, reference.text, "partial restore + prefill = full prefill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_slot_prefix_alone_goes_cold_and_the_entry_limit_holds() {
    let client = SippClient::new();
    // Without snapshots the displaced prefix is gone: this is the gap snapshots close.
    let ep = endpoint(&client, KvReuseMode::LiveSlotPrefix, None).await;
    let prompt = ask("How do I reset my password?");
    client.query(query(&ep, &prompt, greedy(4))).await.unwrap();
    other_traffic(&client, &ep, 3).await;
    let again = client.query(query(&ep, &prompt, greedy(4))).await.unwrap();
    assert_eq!(again.local_stats.unwrap().cached_prompt_tokens, 0);

    // One entry at most: a second displaced prefix evicts the first.
    let ep = endpoint(&client, KvReuseMode::Snapshot, Some(1)).await;
    for question in ["How do I reset my password?", "Where can I see my invoices?"] {
        let p = format!("{question} {}", system_prompt());
        client.query(query(&ep, &chatml(&p), greedy(4))).await.unwrap();
        other_traffic(&client, &ep, 2).await;
    }
    let stats = client.endpoint_stats(&ep).unwrap();
    assert_eq!(stats.snapshot_entries, 1, "{stats:?}");
    assert!(stats.snapshot_evictions >= 1, "{stats:?}");
}

async fn persisted_endpoint(client: &SippClient, id: &str, dir: &std::path::Path, n_ctx: u32) -> EndpointRef {
    let config = NativeRuntimeConfig {
        context: sipp::engine::ContextRuntimeConfig { n_ctx: Some(n_ctx), ..Default::default() },
        scheduler: SchedulerRuntimeConfig { max_running_requests: Some(2), ..Default::default() },
        cache: CacheRuntimeConfig {
            mode: KvReuseMode::Snapshot,
            snapshot_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
        ..Default::default()
    };
    client.add(id, EndpointDescriptor::local(model(), config)).await.expect("load model")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_survive_a_restart_and_damaged_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = ask("How do I reset my password?");
    let cold = {
        let client = SippClient::new();
        let ep = persisted_endpoint(&client, "first", dir.path(), 2048).await;
        let cold = client.query(query(&ep, &prompt, greedy(12))).await.unwrap();
        other_traffic(&client, &ep, 3).await;
        assert!(client.endpoint_stats(&ep).unwrap().snapshots_taken >= 1);
        client.close();
        cold
    };
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(files.iter().any(|p| p.extension().is_some_and(|x| x == "json")), "{files:?}");
    assert!(!files.iter().any(|p| p.to_string_lossy().ends_with(".tmp")), "{files:?}");

    // A new endpoint (as after a restart) finds the prefix warm: same answer.
    let client = SippClient::new();
    let ep = persisted_endpoint(&client, "second", dir.path(), 2048).await;
    let loaded = client.endpoint_stats(&ep).unwrap();
    assert!(loaded.snapshot_entries >= 1, "{loaded:?}");
    let warm = client.query(query(&ep, &prompt, greedy(12))).await.unwrap();
    assert_eq!(warm.text, cold.text);
    let (warm_stats, cold_stats) = (warm.local_stats.unwrap(), cold.local_stats.unwrap());
    assert_eq!(warm_stats.cached_prompt_tokens + 1, cold_stats.prefill_tokens);

    // Another context shape: the files are not for it.
    let other = persisted_endpoint(&client, "other-shape", dir.path(), 1024).await;
    assert_eq!(client.endpoint_stats(&other).unwrap().snapshot_entries, 0);

    // One flipped byte: refused before llama.cpp sees it.
    client.close();
    for kv in std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kv"))
    {
        let mut bytes = std::fs::read(&kv).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&kv, bytes).unwrap();
    }
    let client = SippClient::new();
    let ep = persisted_endpoint(&client, "third", dir.path(), 2048).await;
    assert_eq!(client.endpoint_stats(&ep).unwrap().snapshot_entries, 0);
    let again = client.query(query(&ep, &prompt, greedy(12))).await.unwrap();
    assert_eq!((again.text, again.local_stats.unwrap().cached_prompt_tokens), (cold.text, 0));
}

/// A request for `question` while a 160-token story runs in the other slot; returns its
/// answer, the story's output tokens and the snapshots taken before the question.
async fn answer_while_busy(
    client: &SippClient,
    ep: &EndpointRef,
    question: &str,
) -> (sipp::SippTextResponse, u32, u64) {
    use futures_util::StreamExt;
    let long = sipp::SippQueryRequest { emit_tokens: true, ..query(ep, &ask("Tell me a long story."), greedy(160)) };
    let mut story = client.query(long);
    story.next().await.unwrap().unwrap();
    let taken = client.endpoint_stats(ep).unwrap().snapshots_taken;
    let answer = client.query(query(ep, &ask(question), greedy(16))).await.unwrap();
    while let Some(Ok(_)) = story.next().await {}
    let story_tokens = story.response().await.unwrap().usage.unwrap().output_tokens;
    (answer, story_tokens, taken)
}

/// `snapshot_interval_tokens`: a running request's prompt is snapshotted once prefilled
/// (and every 64 cells after), so a second request with the same system prompt restores
/// it while the first still holds its slot, and answers as a lone cold prefill does
/// (the remainder is prefilled beside a running decode: `context.deterministic` makes
/// that the same arithmetic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_snapshots_share_a_busy_slots_prefix() {
    let client = SippClient::new();
    let config = NativeRuntimeConfig {
        scheduler: SchedulerRuntimeConfig { max_running_requests: Some(2), ..Default::default() },
        cache: CacheRuntimeConfig {
            mode: KvReuseMode::Snapshot,
            snapshot_interval_tokens: Some(64),
            ..Default::default()
        },
        ..Default::default()
    };
    let ep = client.add("interval", EndpointDescriptor::local(model(), config.clone())).await.unwrap();
    let (answer, story_tokens, taken) = answer_while_busy(&client, &ep, "Where can I see my invoices?").await;
    assert!(taken >= 1, "the prefilled prompt is snapshotted");
    let stats = answer.local_stats.clone().unwrap();
    assert!(stats.cached_prompt_tokens > 300, "restored from the busy slot's snapshot: {stats:?}");
    let after = client.endpoint_stats(&ep).unwrap();
    assert!(after.snapshot_restores >= 1, "{after:?}");
    if story_tokens >= 128 {
        assert!(after.snapshots_taken > taken, "interval snapshots while generating: {after:?}");
    }
    // Longer snapshots of one request replace its shorter ones.
    assert!(after.snapshot_entries <= 3, "{after:?}");

    let again = client.add("interval-again", EndpointDescriptor::local(model(), config)).await.unwrap();
    let (second, _, _) = answer_while_busy(&client, &again, "Where can I see my invoices?").await;
    assert_eq!(second.local_stats.unwrap().cached_prompt_tokens, stats.cached_prompt_tokens);
    assert_eq!(second.text, answer.text, "the same restore, the same answer");
    assert!(!answer.text.is_empty());
    let plain = endpoint(&client, KvReuseMode::None, None).await;
    let cold = client.query(query(&plain, &ask("Where can I see my invoices?"), greedy(16))).await.unwrap();
    assert_eq!(answer.text, cold.text, "a restored busy prefix + remainder = a lone cold prefill");
}
