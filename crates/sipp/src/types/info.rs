//! What a local endpoint loaded, and its engine's counters: what `endpoint_info` and
//! `endpoint_stats` report.

use super::backend::Backend;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a loaded endpoint is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub architecture: String,
    /// GGUF `general.file_type` of the weights loaded (llama.cpp's `llama_ftype`: 3 Q4_1,
    /// 7 Q8_0, …): with `placement.transcode_weights`, the transcoded copy's.
    pub file_type: Option<u32>,
    pub backend: Backend,
    pub n_ctx_train: u32,
    /// Most tokens (prompt + generated) one request can hold: `context.n_ctx`.
    pub n_ctx: u32,
    /// Longest `embed` input (embedding endpoints: pooling needs the whole input in one
    /// micro-batch, so `context.n_ubatch` bounds it too).
    pub max_input_tokens: u32,
    /// Requests that run at once.
    pub n_seq_max: u32,
    /// One KV pool shared by running requests (`true`) or a window per request.
    pub kv_unified: bool,
    /// `context.deterministic` as resolved: answers do not depend on the cache or batch.
    pub deterministic: bool,
    /// KV cells allocated, all requests together, and their size in bytes.
    pub kv_cells: u32,
    pub kv_bytes: u64,
    pub n_vocab: i32,
    pub n_embd: i32,
    pub has_chat_template: bool,
    /// Loaded for `embed` (true) or text generation (false).
    pub embeddings: bool,
}

/// A snapshot of an endpoint's engine counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EngineStats {
    /// `decode` calls made so far.
    pub decode_calls: u64,
    /// Tokens carried by those calls (prompt chunks and decode steps).
    pub batched_tokens: u64,
    /// Most distinct sequences ever carried by one `decode` call: > 1 proves batching.
    pub max_batch_sequences: u64,
    pub completed_requests: u64,
    pub cancelled_requests: u64,
    pub failed_requests: u64,
    /// Prompt tokens served from retained KV instead of being recomputed.
    pub reused_prompt_tokens: u64,
    /// Requests waiting for a slot right now.
    pub waiting_requests: u64,
    /// `cache.mode = snapshot`: states copied to host RAM before being displaced.
    pub snapshots_taken: u64,
    /// Requests that started from a restored snapshot, and the prompt tokens it served.
    pub snapshot_restores: u64,
    pub snapshot_restored_tokens: u64,
    /// Long prompts (over 32 tokens) that neither a live slot nor a snapshot could serve.
    pub snapshot_misses: u64,
    /// Snapshots dropped to stay within the entry and byte limits.
    pub snapshot_evictions: u64,
    /// Snapshots held now, and their bytes.
    pub snapshot_entries: u64,
    pub snapshot_bytes: u64,
    /// Requests running right now.
    pub running_requests: u64,
    /// KV cells holding tokens now (running requests and idle slots' prefixes), of all
    /// the cells allocated.
    pub kv_cells_used: u64,
    pub kv_cells_total: u64,
    /// Prompt tokens computed (reused ones excluded), and tokens generated.
    pub prompt_tokens: u64,
    pub generated_tokens: u64,
    /// Time to first token (submit to first sampled token), per request.
    pub ttft: LatencyHistogram,
    /// Time between consecutive tokens of one request.
    pub inter_token: LatencyHistogram,
}

/// A latency distribution in fixed buckets ([`LatencyHistogram::BOUNDS_MS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LatencyHistogram {
    /// Observations at or below each bound, not cumulative; the rest are above the last.
    pub buckets: [u64; 12],
    pub count: u64,
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// Upper bounds of the buckets, in milliseconds.
    pub const BOUNDS_MS: [u64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

    /// Observations at or below each bound (Prometheus' `le` buckets), then `+Inf`.
    #[must_use]
    pub fn cumulative(&self) -> Vec<u64> {
        let mut total = 0;
        let mut out: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| {
                total += b;
                total
            })
            .collect();
        out.push(self.count);
        out
    }

    /// The bucket bound below which `q` (0..=1) of the observations fall; `None` when
    /// empty or past the last bound.
    #[must_use]
    pub fn quantile_ms(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        self.cumulative().iter().zip(Self::BOUNDS_MS).find(|(c, _)| **c >= rank).map(|(_, b)| b)
    }
}
