//! Engine-wide counters, readable from any thread while the engine runs.

use crate::kv_cache::SnapshotCounters;
use crate::types::{EngineStats, LatencyHistogram};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
    kv_cells_used: AtomicU64,
    kv_cells_total: AtomicU64,
    prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    latency: Mutex<(LatencyHistogram, LatencyHistogram)>,
}

fn observe(h: &mut LatencyHistogram, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    if let Some(i) = LatencyHistogram::BOUNDS_MS.iter().position(|b| us <= b * 1000) {
        h.buckets[i] += 1;
    }
    h.count += 1;
    h.sum_us = h.sum_us.saturating_add(us);
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

    /// Cells holding tokens now, of `total`.
    pub(crate) fn kv_cells(&self, used: usize, total: u32) {
        self.kv_cells_used.store(used as u64, Ordering::Relaxed);
        self.kv_cells_total.store(u64::from(total), Ordering::Relaxed);
    }

    pub(crate) fn prompt_tokens(&self, n: usize) {
        self.prompt_tokens.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One sampled token: its request's first (time since submit) or a later one (time
    /// since the previous token).
    pub(crate) fn token(&self, first: bool, latency: Duration) {
        self.generated_tokens.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.latency.lock() {
            observe(if first { &mut l.0 } else { &mut l.1 }, latency);
        }
    }

    pub(crate) fn snapshots(&self, counters: SnapshotCounters) {
        if let Ok(mut s) = self.snapshots.lock() {
            *s = counters;
        }
    }

    pub(crate) fn snapshot(&self, waiting: usize, running: usize) -> EngineStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let snap = self.snapshots.lock().map(|s| *s).unwrap_or_default();
        let (ttft, inter_token) = self.latency.lock().map(|l| *l).unwrap_or_default();
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
            running_requests: running as u64,
            kv_cells_used: get(&self.kv_cells_used),
            kv_cells_total: get(&self.kv_cells_total),
            prompt_tokens: get(&self.prompt_tokens),
            generated_tokens: get(&self.generated_tokens),
            ttft,
            inter_token,
        }
    }
}
