//! `TrafficControl`: which scopes a request counts in (its caller's `[[tokens]]` limits,
//! its target's `[targets.limits]`), where they are counted (memory, or Redis under
//! `[state]` with its unreachable policy), and the `Reservation` a running request holds:
//! its worst case is taken at admission, and when it ends (finished, failed, cancelled,
//! or dropped with its client) what it did not use goes back.

use super::config::{StateConfig, TrafficLimits, Unreachable};
use super::memory::MemoryStore;
use super::redis_store::{Lease, RedisStore, StoreError};
use super::stats::TrafficStats;
use super::verdict::{LimitKind, Remaining, Scope, Verdict};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct TrafficControl {
    callers: HashMap<String, TrafficLimits>,
    targets: HashMap<String, TrafficLimits>,
    memory: MemoryStore,
    shared: Option<Shared>,
    pub stats: TrafficStats,
}

#[derive(Debug)]
struct Shared {
    store: RedisStore,
    policy: Unreachable,
    up: AtomicBool,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Over a limit; `retry_after_ms` is `None` when the request can never fit.
    Limited { scope: Scope, kind: LimitKind, retry_after_ms: Option<u64>, tokens: u64 },
    /// `[state]` is unreachable and fails closed.
    Unreachable(StoreError),
}

/// Where an admission was counted.
#[derive(Debug)]
enum Held {
    Memory,
    Redis(Lease),
}

impl TrafficControl {
    /// `redis`: the shared store and its policy when `[state]` is set.
    pub fn new(
        callers: HashMap<String, TrafficLimits>,
        targets: HashMap<String, TrafficLimits>,
        redis: Option<(RedisStore, &StateConfig)>,
    ) -> Self {
        let stats = TrafficStats::new(&callers, &targets, redis.is_some());
        let shared = redis.map(|(store, c)| Shared { store, policy: c.on_unreachable, up: AtomicBool::new(true) });
        Self { callers, targets, memory: MemoryStore::default(), shared, stats }
    }

    /// The scopes a request of `caller` to `targets` counts in (a target, or a pool and
    /// the member that runs it), caller first.
    pub fn scopes(&self, caller: &str, targets: &[&str]) -> Vec<Scope> {
        let caller = self.callers.get(caller).filter(|l| !l.is_empty()).map(|l| Scope::caller(caller, *l));
        let mut out: Vec<Scope> = caller.into_iter().collect();
        for t in targets {
            if let Some(l) = self.targets.get(*t).filter(|l| !l.is_empty()) {
                if !out.iter().any(|s| s.kind() == "target" && s.name() == *t) {
                    out.push(Scope::target(t, *l));
                }
            }
        }
        out
    }

    /// Whether any of `scopes` counts tokens (only then is the prompt worth counting).
    pub fn counts_tokens(scopes: &[Scope]) -> bool {
        scopes.iter().any(|s| s.limits.tokens_per_minute.is_some())
    }

    /// Whether this replica can serve: false only while `[state]` fails closed and its
    /// store is unreachable.
    pub fn ready(&self) -> bool {
        self.shared.as_ref().is_none_or(|s| s.policy == Unreachable::FailOpen || s.up.load(Ordering::Acquire))
    }

    /// Admit one request that may use `tokens` (its prompt, `prompt` of them, plus its
    /// output bound) in every scope, or refuse it.
    pub async fn admit(self: &Arc<Self>, scopes: Vec<Scope>, tokens: u64, prompt: u64) -> Result<Reservation, Refused> {
        let reservation = |held, remaining| Reservation {
            control: Arc::clone(self),
            scopes: scopes.clone(),
            reserved: tokens,
            prompt,
            held: Some(held),
            remaining,
            usage: None,
            output: 0,
        };
        if scopes.is_empty() {
            return Ok(reservation(Held::Memory, Vec::new()));
        }
        let counted = match &self.shared {
            None => None,
            Some(shared) => match shared.store.admit(&scopes, tokens).await {
                Ok((verdict, lease)) => {
                    self.store_reached(shared, true, "admit");
                    Some((verdict, Held::Redis(lease)))
                }
                Err(e) => {
                    self.store_reached(shared, false, "admit");
                    tracing::warn!(error = %e, policy = ?shared.policy, "the shared limit store is unreachable");
                    if shared.policy == Unreachable::FailClosed {
                        self.stats.refused_unreachable();
                        return Err(Refused::Unreachable(e));
                    }
                    self.stats.counted_locally();
                    None
                }
            },
        };
        let (verdict, held) = counted.unwrap_or_else(|| (self.memory.admit(&scopes, tokens), Held::Memory));
        match verdict {
            Verdict::Admitted(remaining) => {
                self.stats.admitted(&scopes, &remaining, tokens);
                Ok(reservation(held, remaining))
            }
            Verdict::Limited(l) => {
                let scope = scopes[l.scope].clone();
                self.stats.limited(&scope, l.kind);
                Err(Refused::Limited { scope, kind: l.kind, retry_after_ms: l.retry_after_ms, tokens })
            }
        }
    }

    fn store_reached(&self, shared: &Shared, ok: bool, operation: &'static str) {
        shared.up.store(ok, Ordering::Release);
        self.stats.store_reached(ok, operation);
    }

    /// Renew this replica's leases and check the store (every third of a lease period).
    pub async fn tick(&self) {
        let Some(shared) = &self.shared else { return };
        let reached = match shared.store.renew().await {
            Ok(_) => shared.store.ping().await,
            Err(e) => Err(e),
        };
        if let Err(e) = &reached {
            tracing::warn!(error = %e, "the shared limit store is unreachable");
        }
        self.store_reached(shared, reached.is_ok(), "renew");
    }

    /// The shared store, when `[state]` names one (the blocklist shares it too).
    pub fn store(&self) -> Option<&RedisStore> {
        self.shared.as_ref().map(|s| &s.store)
    }

    /// How often `tick` should run (`None`: no shared store).
    pub fn tick_every(&self) -> Option<std::time::Duration> {
        self.shared.as_ref().map(|s| s.store.lease_period() / 3)
    }

    async fn settle(&self, scopes: &[Scope], held: Held, refund: i64, request: bool) {
        match held {
            Held::Memory => self.memory.settle(scopes, refund, request),
            Held::Redis(lease) => {
                let Some(shared) = &self.shared else { return };
                let r = shared.store.settle(scopes, &lease, refund, request).await;
                if let Err(e) = &r {
                    // The lease expires by itself; the refund is lost (the caller paid
                    // its whole reservation).
                    tracing::warn!(error = %e, refund, "could not settle a request in the shared limit store");
                }
                self.store_reached(shared, r.is_ok(), "settle");
            }
        }
        self.stats.refunded(refund);
    }
}

/// What an admitted request holds until it ends. Dropping it settles: tokens beyond
/// what it used go back (its reported usage; else its prompt and the output seen).
#[derive(Debug)]
pub struct Reservation {
    control: Arc<TrafficControl>,
    scopes: Vec<Scope>,
    reserved: u64,
    prompt: u64,
    held: Option<Held>,
    /// What the admission left, per scope (the `x-ratelimit-*` headers).
    pub remaining: Vec<Remaining>,
    usage: Option<u64>,
    output: u64,
}

impl Reservation {
    /// Output seen so far (a streamed batch).
    pub fn output(&mut self, tokens: u64) {
        self.output += tokens;
    }

    /// What the run reported it used.
    pub fn used(&mut self, input: u32, output: u32) {
        self.usage = Some(u64::from(input) + u64::from(output));
    }

    /// The request never ran (its target refused before any work): everything back,
    /// the request too, now.
    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            let refund = i64::try_from(self.reserved).unwrap_or(i64::MAX);
            self.control.settle(&self.scopes, held, refund, true).await;
        }
    }

    /// Tokens this request is charged.
    fn charged(&self) -> u64 {
        self.usage.unwrap_or(if self.output > 0 { self.prompt + self.output } else { 0 })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else { return };
        if self.scopes.is_empty() {
            return;
        }
        let refund = i64::try_from(self.reserved).unwrap_or(i64::MAX) - i64::try_from(self.charged()).unwrap_or(0);
        let (control, scopes) = (Arc::clone(&self.control), std::mem::take(&mut self.scopes));
        match held {
            Held::Memory => control.memory.settle(&scopes, refund, false),
            held @ Held::Redis(_) => {
                // Dropped on a runtime thread (handlers and streams are): settle there.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move { control.settle(&scopes, held, refund, false).await });
                }
                return;
            }
        }
        self.control.stats.refunded(refund);
    }
}
