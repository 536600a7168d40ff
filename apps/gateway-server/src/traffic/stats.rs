//! Traffic control in `/metrics`: every configured limit, what the last admission left,
//! refusals by scope and limit, reserved and refunded tokens, and the shared store's
//! health. Labels are the config's own callers and targets, so cardinality is bounded.

use super::config::TrafficLimits;
use super::verdict::{LimitKind, Remaining, Scope};
use crate::sync::lock;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub struct TrafficStats {
    /// `(scope kind, name)` -> limits.
    limits: BTreeMap<(&'static str, String), TrafficLimits>,
    /// `(scope key, bucket)` -> remaining after the last admission.
    remaining: Mutex<BTreeMap<(String, &'static str), u64>>,
    limited: Mutex<BTreeMap<(String, &'static str), u64>>,
    reserved: AtomicU64,
    refunded: AtomicI64,
    shared: bool,
    store_up: AtomicU64,
    store_errors: Mutex<BTreeMap<&'static str, u64>>,
    refused_unreachable: AtomicU64,
    counted_locally: AtomicU64,
}

impl TrafficStats {
    pub fn new(
        callers: &HashMap<String, TrafficLimits>,
        targets: &HashMap<String, TrafficLimits>,
        shared: bool,
    ) -> Self {
        let mut limits = BTreeMap::new();
        for (kind, map) in [("caller", callers), ("target", targets)] {
            for (name, l) in map.iter().filter(|(_, l)| !l.is_empty()) {
                limits.insert((kind, name.clone()), *l);
            }
        }
        Self {
            limits,
            remaining: Mutex::default(),
            limited: Mutex::default(),
            reserved: AtomicU64::new(0),
            refunded: AtomicI64::new(0),
            shared,
            store_up: AtomicU64::new(1),
            store_errors: Mutex::default(),
            refused_unreachable: AtomicU64::new(0),
            counted_locally: AtomicU64::new(0),
        }
    }

    pub fn admitted(&self, scopes: &[Scope], remaining: &[Remaining], tokens: u64) {
        self.reserved.fetch_add(tokens, Ordering::Relaxed);
        let mut left = lock(&self.remaining);
        for (scope, r) in scopes.iter().zip(remaining) {
            if let Some(l) = r.requests {
                left.insert((scope.key.clone(), LimitKind::Requests.as_str()), l.remaining);
            }
            if let Some(l) = r.tokens {
                left.insert((scope.key.clone(), LimitKind::Tokens.as_str()), l.remaining);
            }
        }
    }

    pub fn limited(&self, scope: &Scope, kind: LimitKind) {
        *lock(&self.limited).entry((scope.key.clone(), kind.as_str())).or_default() += 1;
    }

    pub fn refunded(&self, tokens: i64) {
        self.refunded.fetch_add(tokens, Ordering::Relaxed);
    }

    pub fn store_reached(&self, ok: bool, operation: &'static str) {
        self.store_up.store(u64::from(ok), Ordering::Relaxed);
        if !ok {
            *lock(&self.store_errors).entry(operation).or_default() += 1;
        }
    }

    pub fn refused_unreachable(&self) {
        self.refused_unreachable.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counted_locally(&self) {
        self.counted_locally.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let split =
            |key: &str| key.split_once(':').map_or((String::new(), key.to_string()), |(k, n)| (k.into(), n.into()));
        head(
            out,
            "sipp_gateway_limit",
            "gauge",
            "Configured limits of callers ([[tokens]]) and targets ([targets.limits]).",
        );
        for ((kind, name), l) in &self.limits {
            for (limit, value) in l.named() {
                if let Some(v) = value {
                    let _ = writeln!(
                        out,
                        "sipp_gateway_limit{{scope=\"{kind}\",name=\"{}\",limit=\"{limit}\"}} {v}",
                        esc(name)
                    );
                }
            }
        }
        head(out, "sipp_gateway_limit_remaining", "gauge", "What the last admission left in a per-minute limit.");
        for ((key, limit), v) in lock(&self.remaining).iter() {
            let (kind, name) = split(key);
            let _ = writeln!(
                out,
                "sipp_gateway_limit_remaining{{scope=\"{kind}\",name=\"{}\",limit=\"{limit}\"}} {v}",
                esc(&name)
            );
        }
        head(out, "sipp_gateway_limited_total", "counter", "Requests refused by a limit (429), by scope and limit.");
        for ((key, limit), v) in lock(&self.limited).iter() {
            let (kind, name) = split(key);
            let _ = writeln!(
                out,
                "sipp_gateway_limited_total{{scope=\"{kind}\",name=\"{}\",limit=\"{limit}\"}} {v}",
                esc(&name)
            );
        }
        head(
            out,
            "sipp_gateway_reserved_tokens_total",
            "counter",
            "Tokens reserved at admission (prompt plus output bound).",
        );
        let _ = writeln!(out, "sipp_gateway_reserved_tokens_total {}", self.reserved.load(Ordering::Relaxed));
        head(
            out,
            "sipp_gateway_refunded_tokens",
            "gauge",
            "Reserved tokens given back when requests ended (net of charges beyond a reservation).",
        );
        let _ = writeln!(out, "sipp_gateway_refunded_tokens {}", self.refunded.load(Ordering::Relaxed));
        if self.shared {
            head(
                out,
                "sipp_gateway_state_up",
                "gauge",
                "Whether the last call to the shared store ([state]) succeeded.",
            );
            let _ = writeln!(out, "sipp_gateway_state_up {}", self.store_up.load(Ordering::Relaxed));
            head(out, "sipp_gateway_state_errors_total", "counter", "Failed calls to the shared store, by operation.");
            for (op, v) in lock(&self.store_errors).iter() {
                let _ = writeln!(out, "sipp_gateway_state_errors_total{{operation=\"{op}\"}} {v}");
            }
            head(
                out,
                "sipp_gateway_state_unreachable_total",
                "counter",
                "Requests the store's absence decided: refused (fail_closed) or counted in this replica (fail_open).",
            );
            let _ = writeln!(
                out,
                "sipp_gateway_state_unreachable_total{{outcome=\"refused\"}} {}",
                self.refused_unreachable.load(Ordering::Relaxed)
            );
            let _ = writeln!(
                out,
                "sipp_gateway_state_unreachable_total{{outcome=\"counted_locally\"}} {}",
                self.counted_locally.load(Ordering::Relaxed)
            );
        }
    }
}

/// A label value as the text format wants it.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
