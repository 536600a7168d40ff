//! Engine-wide counters, readable from any thread while the engine runs.

use crate::kv_cache::SnapshotCounters;
use crate::types::EngineStats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(crate) struct EngineCounters {
    decode_calls: AtomicU64,
    batched_tokens: AtomicU64,
    max_batch_sequences: AtomicU64,
    completed: AtomicU64,
    cancelled: AtomicU64,
    failed: AtomicU64,
    reused_prompt_tokens: AtomicU64,
    /// The owner thread's snapshot store, as of its last change.
    snapshots: Mutex<SnapshotCounters>,
}

impl EngineCounters {
    pub(crate) fn decoded(&self, tokens: usize, sequences: usize) {
        self.decode_calls.fetch_add(1, Ordering::Relaxed);
        self.batched_tokens.fetch_add(tokens as u64, Ordering::Relaxed);
        self.max_batch_sequences.fetch_max(sequences as u64, Ordering::Relaxed);
    }
    pub(crate) fn completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn reused(&self, tokens: usize) {
        self.reused_prompt_tokens.fetch_add(tokens as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshots(&self, counters: SnapshotCounters) {
        if let Ok(mut s) = self.snapshots.lock() {
            *s = counters;
        }
    }

    pub(crate) fn snapshot(&self, waiting: usize) -> EngineStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let snap = self.snapshots.lock().map(|s| *s).unwrap_or_default();
        EngineStats {
            decode_calls: get(&self.decode_calls),
            batched_tokens: get(&self.batched_tokens),
            max_batch_sequences: get(&self.max_batch_sequences),
            completed_requests: get(&self.completed),
            cancelled_requests: get(&self.cancelled),
            failed_requests: get(&self.failed),
            reused_prompt_tokens: get(&self.reused_prompt_tokens),
            waiting_requests: waiting as u64,
            snapshots_taken: snap.taken,
            snapshot_restores: snap.restores,
            snapshot_restored_tokens: snap.restored_tokens,
            snapshot_misses: snap.misses,
            snapshot_evictions: snap.evictions,
            snapshot_entries: snap.entries,
            snapshot_bytes: snap.bytes,
        }
    }
}
