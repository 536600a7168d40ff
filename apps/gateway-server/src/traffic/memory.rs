//! Limits counted in this process (no `[state]`, or `[state]` failing open while Redis
//! is away): one mutex over every scope's buckets and running count, so a check and its
//! take are one step however many requests arrive at once.

use super::bucket::Bucket;
use super::verdict::{Level, LimitKind, Limited, Remaining, Scope, Verdict};
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// How long a client is told to wait for a concurrency slot: when one frees up is not
/// known ahead.
pub const STREAM_RETRY_MS: u64 = 1_000;

#[derive(Debug)]
pub struct MemoryStore {
    epoch: Instant,
    scopes: Mutex<HashMap<String, ScopeState>>,
}

#[derive(Debug, Default)]
struct ScopeState {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    running: u32,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self { epoch: Instant::now(), scopes: Mutex::default() }
    }
}

fn bucket(slot: &mut Option<Bucket>, limit: Option<u32>, now: f64) -> Option<(u32, &mut Bucket)> {
    let cap = limit?;
    let b = slot.get_or_insert_with(|| Bucket::full(cap, now));
    b.refill(cap, now);
    Some((cap, b))
}

fn level(b: &Bucket, cap: u32) -> Level {
    Level { limit: cap, remaining: b.remaining(), reset_ms: b.wait_ms(cap, f64::from(cap)) }
}

impl MemoryStore {
    fn now_ms(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64() * 1000.0
    }

    /// One request needing `tokens` against every scope: all admit it (and it is counted
    /// in all) or none counts it.
    pub fn admit(&self, scopes: &[Scope], tokens: u64) -> Verdict {
        let now = self.now_ms();
        let mut all = lock(&self.scopes);
        #[allow(clippy::cast_precision_loss)]
        let cost = tokens as f64;
        let mut refusal: Option<Limited> = None;
        let mut worse = |r: Limited| {
            let later = match (&refusal, r.retry_after_ms) {
                (None, _) => true,
                (Some(old), new) => old.retry_after_ms.is_some() && new.is_none_or(|n| Some(n) > old.retry_after_ms),
            };
            if later {
                refusal = Some(r);
            }
        };
        for (i, scope) in scopes.iter().enumerate() {
            let state = all.entry(scope.key.clone()).or_default();
            let l = scope.limits;
            if let Some((cap, b)) = bucket(&mut state.requests, l.requests_per_minute, now) {
                if b.level < 1.0 {
                    worse(Limited { scope: i, kind: LimitKind::Requests, retry_after_ms: Some(b.wait_ms(cap, 1.0)) });
                }
            }
            if let Some((cap, b)) = bucket(&mut state.tokens, l.tokens_per_minute, now) {
                if cost > f64::from(cap) {
                    worse(Limited { scope: i, kind: LimitKind::Tokens, retry_after_ms: None });
                } else if b.level < cost {
                    worse(Limited { scope: i, kind: LimitKind::Tokens, retry_after_ms: Some(b.wait_ms(cap, cost)) });
                }
            }
            if l.max_concurrent_streams.is_some_and(|max| state.running >= max) {
                worse(Limited { scope: i, kind: LimitKind::Streams, retry_after_ms: Some(STREAM_RETRY_MS) });
            }
        }
        if let Some(r) = refusal {
            return Verdict::Limited(r);
        }
        let mut out = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let state = all.entry(scope.key.clone()).or_default();
            let mut remaining = Remaining::default();
            if let (Some(cap), Some(b)) = (scope.limits.requests_per_minute, state.requests.as_mut()) {
                b.credit(cap, -1.0);
                remaining.requests = Some(level(b, cap));
            }
            if let (Some(cap), Some(b)) = (scope.limits.tokens_per_minute, state.tokens.as_mut()) {
                b.credit(cap, -cost);
                remaining.tokens = Some(level(b, cap));
            }
            state.running += 1;
            out.push(remaining);
        }
        Verdict::Admitted(out)
    }

    /// The end of an admitted request: `refund` tokens back (negative: a charge beyond
    /// the reservation), its request back when `request` is set, its running slot freed.
    pub fn settle(&self, scopes: &[Scope], refund: i64, request: bool) {
        let now = self.now_ms();
        let mut all = lock(&self.scopes);
        for scope in scopes {
            let state = all.entry(scope.key.clone()).or_default();
            state.running = state.running.saturating_sub(1);
            if request {
                if let Some((cap, b)) = bucket(&mut state.requests, scope.limits.requests_per_minute, now) {
                    b.credit(cap, 1.0);
                }
            }
            if let Some((cap, b)) = bucket(&mut state.tokens, scope.limits.tokens_per_minute, now) {
                #[allow(clippy::cast_precision_loss)]
                b.credit(cap, refund as f64);
            }
        }
    }

    /// Requests running now in `scope`.
    pub fn running(&self, key: &str) -> u32 {
        lock(&self.scopes).get(key).map_or(0, |s| s.running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::config::TrafficLimits;

    fn caller(rpm: Option<u32>, tpm: Option<u32>, streams: Option<u32>) -> Scope {
        Scope::caller(
            "c",
            TrafficLimits { requests_per_minute: rpm, tokens_per_minute: tpm, max_concurrent_streams: streams },
        )
    }

    #[test]
    fn all_scopes_admit_or_none_counts() {
        let m = MemoryStore::default();
        let scopes = [
            caller(None, Some(1_000), None),
            Scope::target("t", TrafficLimits { requests_per_minute: Some(1), ..Default::default() }),
        ];
        assert!(matches!(m.admit(&scopes, 400), Verdict::Admitted(_)));
        let Verdict::Limited(l) = m.admit(&scopes, 400) else { panic!("the target's one request is used") };
        assert_eq!((l.scope, l.kind), (1, LimitKind::Requests));
        // The caller was not charged for the refused request: 600 left, so 600 fits.
        let alone = [scopes[0].clone()];
        assert!(matches!(m.admit(&alone, 600), Verdict::Admitted(_)));
        let Verdict::Limited(l) = m.admit(&alone, 1) else { panic!() };
        assert_eq!(l.kind, LimitKind::Tokens);
        assert!(l.retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 60), "{l:?}");
    }

    #[test]
    fn a_request_larger_than_the_limit_can_never_run() {
        let m = MemoryStore::default();
        let Verdict::Limited(l) = m.admit(&[caller(None, Some(100), None)], 101) else { panic!() };
        assert_eq!((l.kind, l.retry_after_ms), (LimitKind::Tokens, None));
    }

    #[test]
    fn settle_refunds_unused_tokens_and_frees_the_slot() {
        let m = MemoryStore::default();
        let s = [caller(Some(10), Some(1_000), Some(1))];
        let Verdict::Admitted(r) = m.admit(&s, 1_000) else { panic!() };
        assert_eq!(r[0].tokens.map(|l| l.remaining), Some(0));
        assert_eq!(r[0].requests.map(|l| (l.limit, l.remaining)), Some((10, 9)));
        assert!(matches!(m.admit(&s, 1), Verdict::Limited(Limited { kind: LimitKind::Streams, .. })));
        m.settle(&s, 700, false);
        assert_eq!(m.running("caller:c"), 0);
        let Verdict::Admitted(r) = m.admit(&s, 700) else { panic!("700 unused tokens came back") };
        assert_eq!(r[0].requests.map(|l| l.remaining), Some(8));
    }

    #[test]
    fn concurrent_admissions_are_exact() {
        let m = std::sync::Arc::new(MemoryStore::default());
        let s = std::sync::Arc::new([caller(None, Some(1_000), None)]);
        let admitted: usize = std::thread::scope(|t| {
            let handles: Vec<_> = (0..64)
                .map(|_| {
                    let (m, s) = (std::sync::Arc::clone(&m), std::sync::Arc::clone(&s));
                    t.spawn(move || matches!(m.admit(&s[..], 100), Verdict::Admitted(_)))
                })
                .collect();
            handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
        });
        assert_eq!(admitted, 10);
    }
}
