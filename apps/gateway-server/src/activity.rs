//! What the admin dashboard shows over time, in memory only: the most recent requests
//! (ids, caller labels, targets, status, tokens, latency; never a prompt or a credential)
//! and a rolling history of samples taken every [`SAMPLE_EVERY`] for [`HISTORY`]. Each
//! sample aggregates the requests that finished since the previous one. Keys are bounded
//! by the configuration: callers are token labels and a target the config does not name
//! counts as `UNKNOWN`, so no client can grow these maps.

use crate::sync::lock;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
pub const HISTORY: Duration = Duration::from_secs(15 * 60);
/// Requests kept for the "recent requests" table.
pub const RECENT: usize = 200;
/// The target of a request that named none the config has (or was refused first).
pub const UNKNOWN: &str = "-";

/// One finished request as the dashboard lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RequestRecord {
    pub id: String,
    /// Unix milliseconds when it finished.
    pub at: u64,
    pub caller: String,
    pub target: String,
    /// The target asked for, when a fallback served it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_from: Option<String>,
    pub operation: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
}

/// Requests and errors of one key within a sample.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema)]
pub struct Count {
    pub requests: u64,
    pub errors: u64,
}

/// A local target's engine at sample time.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct EngineSample {
    pub running: u64,
    pub waiting: u64,
    pub kv_cells_used: u64,
    pub kv_cells_total: u64,
    /// Cumulative, as the engine counts them.
    pub snapshot_restores: u64,
    pub reused_prompt_tokens: u64,
}

/// One point of the rolling history.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Sample {
    /// Unix milliseconds at the end of the interval.
    pub at: u64,
    pub interval_ms: u64,
    pub requests: u64,
    pub errors: u64,
    pub by_target: BTreeMap<String, Count>,
    pub by_operation: BTreeMap<&'static str, Count>,
    pub by_caller: BTreeMap<String, Count>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Gauges at the end of the interval.
    pub in_flight: i64,
    pub admission_held: u64,
    /// Refusals before running within the interval, by reason (blocked, rate_limited, …).
    pub rejections: BTreeMap<&'static str, u64>,
    pub engines: BTreeMap<String, EngineSample>,
}

#[derive(Debug, Default)]
struct Window {
    sample: Sample,
    latencies: Vec<f64>,
    ttfts: Vec<f64>,
}

#[derive(Debug, Default)]
pub struct Activity {
    recent: Mutex<VecDeque<RequestRecord>>,
    window: Mutex<Window>,
    history: Mutex<VecDeque<Sample>>,
    /// Cumulative rejections at the previous sample (the sample holds the difference).
    rejections_before: Mutex<BTreeMap<&'static str, u64>>,
}

/// Gauges and counters read when a sample closes.
#[derive(Debug, Default)]
pub struct Gauges {
    pub in_flight: i64,
    pub admission_held: u64,
    pub rejections_total: BTreeMap<&'static str, u64>,
    pub engines: BTreeMap<String, EngineSample>,
}

impl Activity {
    pub fn record(&self, r: RequestRecord) {
        {
            let mut w = lock(&self.window);
            let failed = u64::from(r.error.is_some());
            let add = |c: &mut Count| {
                c.requests += 1;
                c.errors += failed;
            };
            w.sample.requests += 1;
            w.sample.errors += failed;
            add(w.sample.by_target.entry(r.target.clone()).or_default());
            add(w.sample.by_operation.entry(r.operation).or_default());
            add(w.sample.by_caller.entry(r.caller.clone()).or_default());
            w.sample.input_tokens += u64::from(r.input_tokens);
            w.sample.output_tokens += u64::from(r.output_tokens);
            w.latencies.push(r.latency_ms);
            if let Some(t) = r.ttft_ms {
                w.ttfts.push(t);
            }
        }
        let mut recent = lock(&self.recent);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(r);
    }

    /// Close the current interval into a history point.
    pub fn sample(&self, now_ms: u64, gauges: Gauges) {
        let mut w = std::mem::take(&mut *lock(&self.window));
        let mut before = lock(&self.rejections_before);
        let rejections = gauges
            .rejections_total
            .iter()
            .map(|(reason, n)| (*reason, n.saturating_sub(before.get(reason).copied().unwrap_or(0))))
            .filter(|(_, n)| *n > 0)
            .collect();
        *before = gauges.rejections_total;
        drop(before);
        let mut history = lock(&self.history);
        let previous = history.back().map_or(now_ms.saturating_sub(ms(SAMPLE_EVERY)), |s| s.at);
        let (latency_p50_ms, latency_p99_ms) = percentiles(&mut w.latencies);
        let (ttft_p50_ms, ttft_p99_ms) = percentiles(&mut w.ttfts);
        let sample = Sample {
            at: now_ms,
            interval_ms: now_ms.saturating_sub(previous).max(1),
            latency_p50_ms,
            latency_p99_ms,
            ttft_p50_ms,
            ttft_p99_ms,
            in_flight: gauges.in_flight,
            admission_held: gauges.admission_held,
            rejections,
            engines: gauges.engines,
            ..w.sample
        };
        let keep = usize::try_from(HISTORY.as_secs() / SAMPLE_EVERY.as_secs().max(1)).unwrap_or(450);
        while history.len() >= keep {
            history.pop_front();
        }
        history.push_back(sample);
    }

    /// Points newer than `since` (unix ms), oldest first.
    pub fn history(&self, since: u64) -> Vec<Sample> {
        lock(&self.history).iter().filter(|s| s.at > since).cloned().collect()
    }

    /// Newest first.
    pub fn recent(&self, limit: usize) -> Vec<RequestRecord> {
        lock(&self.recent).iter().rev().take(limit).cloned().collect()
    }
}

/// p50 and p99 by nearest rank.
fn percentiles(values: &mut [f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
        values[i]
    };
    (Some(rank(0.5)), Some(rank(0.99)))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(target: &str, latency_ms: f64, error: Option<&str>) -> RequestRecord {
        RequestRecord {
            id: "r".into(),
            at: 0,
            caller: "app".into(),
            target: target.into(),
            fallback_from: None,
            operation: "chat",
            status: if error.is_some() { 500 } else { 200 },
            error: error.map(str::to_string),
            input_tokens: 3,
            output_tokens: 4,
            latency_ms,
            ttft_ms: Some(latency_ms / 2.0),
        }
    }

    #[test]
    fn samples_aggregate_the_interval_and_rejections_become_differences() {
        let a = Activity::default();
        for i in 1..=100 {
            a.record(record("local", f64::from(i), (i % 10 == 0).then_some("execution")));
        }
        let mut total = BTreeMap::from([("blocked", 3)]);
        a.sample(10_000, Gauges { rejections_total: total.clone(), ..Gauges::default() });
        total.insert("blocked", 5);
        a.record(record("mock", 7.0, None));
        a.sample(12_000, Gauges { rejections_total: total, in_flight: 2, ..Gauges::default() });
        let h = a.history(0);
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].requests, h[0].errors, h[0].input_tokens, h[0].output_tokens), (100, 10, 300, 400));
        assert_eq!((h[0].latency_p50_ms, h[0].latency_p99_ms), (Some(50.0), Some(99.0)));
        assert_eq!(h[0].by_target["local"].errors, 10);
        assert_eq!(h[0].rejections["blocked"], 3);
        assert_eq!((h[1].requests, h[1].interval_ms, h[1].in_flight), (1, 2000, 2));
        assert_eq!(h[1].rejections["blocked"], 2, "the difference since the last sample");
        assert_eq!(a.history(10_000).len(), 1);
        assert_eq!(a.recent(3).len(), 3);
        assert_eq!(a.recent(1)[0].target, "mock", "newest first");
    }

    #[test]
    fn history_and_recent_are_bounded() {
        let a = Activity::default();
        for i in 0..(RECENT + 10) {
            a.record(record("local", 1.0, None));
            a.sample(u64::try_from(i).unwrap() * 2000, Gauges::default());
        }
        assert_eq!(a.recent(usize::MAX).len(), RECENT);
        assert!(a.history(0).len() <= 450);
        for i in 0..1000u64 {
            a.sample(1_000_000 + i * 2000, Gauges::default());
        }
        assert_eq!(a.history(0).len(), 450);
    }
}
