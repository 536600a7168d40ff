//! `placement.transcode_weights = "q8_0"` on the real default model (Q4_1): the Q8_0
//! copy is made once into the transcode directory, reused by the next load, answers
//! sensibly and prefills faster than the original (counted in the engine's own prompt
//! throughput, which is what the option is for).

mod common;

use common::*;
use sipp::engine::{CacheRuntimeConfig, KvReuseMode, NativeRuntimeConfig, PlacementRuntimeConfig, WeightFormat};
use sipp::{EndpointDescriptor, SippClient};

fn transcoded(dir: &std::path::Path) -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        placement: PlacementRuntimeConfig {
            transcode_weights: Some(WeightFormat::Q8_0),
            transcode_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
        ..no_reuse()
    }
}

/// Every prompt prefilled in full, so prefill throughput compares like with like.
fn no_reuse() -> NativeRuntimeConfig {
    NativeRuntimeConfig {
        cache: CacheRuntimeConfig { mode: KvReuseMode::None, ..Default::default() },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q4_1_weights_load_as_q8_0_once_and_answer() {
    let dir = tempfile::tempdir().unwrap();
    let client = SippClient::new();
    let ep = client.add("q8", EndpointDescriptor::local(model(), transcoded(dir.path()))).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one finished file, no partial left: {files:?}");
    let file = &files[0];
    assert!(file.to_string_lossy().ends_with(".q8_0.gguf"), "{file:?}");
    let original = std::fs::metadata(model()).unwrap().len();
    let size = std::fs::metadata(file).unwrap().len();
    // Q8_0 blocks are 1.7x Q4_1's; this model's embeddings were Q8_0 already (1.47x).
    assert!(size > original * 13 / 10, "Q8_0 is larger than Q4_1: {size} vs {original}");

    let answer = client.query(query(&ep, &chatml("What is the capital of France?"), greedy(24))).await.unwrap();
    assert!(answer.text.contains("Paris"), "{}", answer.text);

    // The next load reuses the file as it is.
    let modified = std::fs::metadata(file).unwrap().modified().unwrap();
    let again = client.add("q8-again", EndpointDescriptor::local(model(), transcoded(dir.path()))).await.unwrap();
    assert_eq!(std::fs::metadata(file).unwrap().modified().unwrap(), modified);
    let same = client.query(query(&again, &chatml("What is the capital of France?"), greedy(24))).await.unwrap();
    assert_eq!(same.text, answer.text);

    // What it is for: prompt processing (best of three, a long prompt), vs the original.
    let plain = client.add("q4", EndpointDescriptor::local(model(), no_reuse())).await.unwrap();
    let long = chatml(&"The river valley was farmed for centuries by families who traded grain. ".repeat(24));
    let mut best = [0f64; 2];
    for (i, ep) in [&again, &plain].into_iter().enumerate() {
        for _ in 0..3 {
            let r = client.query(query(ep, &long, greedy(1))).await.unwrap();
            best[i] = best[i].max(r.local_stats.unwrap().prefill_tokens_per_second);
        }
    }
    assert!(best[0] > best[1] * 1.3, "Q8_0 prefill {:.0} tok/s vs Q4_1 {:.0}", best[0], best[1]);
}
