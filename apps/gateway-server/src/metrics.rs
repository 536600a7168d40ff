//! The gateway's Prometheus metrics, rendered as text exposition format. Labels are
//! low-cardinality by construction: operation, status, error code, rejection reason.

use crate::sync::lock;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets in seconds: sub-millisecond proxying up to long generations.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    errors: Mutex<BTreeMap<(&'static str, String), u64>>,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    in_flight: AtomicI64,
    /// Open connections by listener.
    connections: Mutex<BTreeMap<&'static str, i64>>,
    /// Connections ended by the gateway, by listener and reason (`refused`, `timed_out`).
    connection_ends: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    /// Requests handed on, by `(from, to, reason)`: configured target names and codes.
    fallbacks: Mutex<BTreeMap<(String, String, String), u64>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Decrements the in-flight gauge when dropped (also when a request is abandoned).
#[derive(Debug)]
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Metrics {
    pub fn in_flight(&self) -> InFlight<'_> {
        self.enter();
        InFlight(self)
    }

    /// A request started; pair with `leave` (guards do this).
    pub fn enter(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// One finished request (for streams: when the stream ended).
    pub fn finished(&self, operation: &'static str, status: u16, error_code: Option<&str>, elapsed: Duration) {
        *lock(&self.requests).entry((operation, status)).or_default() += 1;
        if let Some(code) = error_code {
            *lock(&self.errors).entry((operation, code.to_string())).or_default() += 1;
        }
        let mut latency = lock(&self.latency);
        let h = latency.entry(operation).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// A request handed from one target to its fallback, and why.
    pub fn fell_back(&self, from: &str, to: &str, reason: &str) {
        *lock(&self.fallbacks).entry((from.to_string(), to.to_string(), reason.to_string())).or_default() += 1;
    }

    /// A request refused before it ran (`unauthenticated`, `forbidden`, `overloaded`, …).
    pub fn rejected(&self, reason: &'static str) {
        *lock(&self.rejections).entry(reason).or_default() += 1;
    }

    pub fn connection_opened(&self, listener: &'static str) {
        *lock(&self.connections).entry(listener).or_default() += 1;
    }

    pub fn connection_closed(&self, listener: &'static str) {
        *lock(&self.connections).entry(listener).or_default() -= 1;
    }

    /// Refused at the connection limit.
    pub fn connection_refused(&self, listener: &'static str) {
        *lock(&self.connection_ends).entry((listener, "refused")).or_default() += 1;
    }

    /// Closed for sending no complete request header in time (idle, slow or silent).
    pub fn connection_timed_out(&self, listener: &'static str) {
        *lock(&self.connection_ends).entry((listener, "timed_out")).or_default() += 1;
    }

    pub fn tokens(&self, input: u32, output: u32) {
        self.input_tokens.fetch_add(u64::from(input), Ordering::Relaxed);
        self.output_tokens.fetch_add(u64::from(output), Ordering::Relaxed);
    }

    /// Refusals so far, by reason (the dashboard's history takes differences).
    pub fn rejections_total(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.rejections).clone()
    }

    pub fn in_flight_now(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Finished requests, failed ones, and tokens in and out, since start.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        let requests = lock(&self.requests).values().sum();
        let errors = lock(&self.errors).values().sum();
        (requests, errors, self.input_tokens.load(Ordering::Relaxed), self.output_tokens.load(Ordering::Relaxed))
    }

    /// Prometheus text format; `extra` is appended (per-target runtime metrics).
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        header(&mut out, "sipp_gateway_requests_total", "counter", "Finished requests by operation and HTTP status.");
        for ((op, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(out, "sipp_gateway_requests_total{{operation=\"{op}\",status=\"{status}\"}} {n}");
        }
        header(&mut out, "sipp_gateway_errors_total", "counter", "Failed requests by operation and error code.");
        for ((op, code), n) in lock(&self.errors).iter() {
            let _ = writeln!(out, "sipp_gateway_errors_total{{operation=\"{op}\",code=\"{code}\"}} {n}");
        }
        header(&mut out, "sipp_gateway_rejections_total", "counter", "Requests refused before running, by reason.");
        for (reason, n) in lock(&self.rejections).iter() {
            let _ = writeln!(out, "sipp_gateway_rejections_total{{reason=\"{reason}\"}} {n}");
        }
        header(
            &mut out,
            "sipp_gateway_fallbacks_total",
            "counter",
            "Requests a target handed to its fallback, by reason.",
        );
        for ((from, to, reason), n) in lock(&self.fallbacks).iter() {
            let _ =
                writeln!(out, "sipp_gateway_fallbacks_total{{from=\"{from}\",to=\"{to}\",reason=\"{reason}\"}} {n}");
        }
        header(
            &mut out,
            "sipp_gateway_in_flight_requests",
            "gauge",
            "Requests running now (streams until their last event).",
        );
        let _ = writeln!(out, "sipp_gateway_in_flight_requests {}", self.in_flight.load(Ordering::Relaxed));
        header(&mut out, "sipp_gateway_open_connections", "gauge", "Open connections by listener.");
        for (listener, n) in lock(&self.connections).iter() {
            let _ = writeln!(out, "sipp_gateway_open_connections{{listener=\"{listener}\"}} {n}");
        }
        header(
            &mut out,
            "sipp_gateway_connections_closed_total",
            "counter",
            "Connections the gateway ended: refused at the limit, or timed out before a request header.",
        );
        for ((listener, reason), n) in lock(&self.connection_ends).iter() {
            let _ = writeln!(
                out,
                "sipp_gateway_connections_closed_total{{listener=\"{listener}\",reason=\"{reason}\"}} {n}"
            );
        }
        header(&mut out, "sipp_gateway_input_tokens_total", "counter", "Prompt tokens of finished requests.");
        let _ = writeln!(out, "sipp_gateway_input_tokens_total {}", self.input_tokens.load(Ordering::Relaxed));
        header(&mut out, "sipp_gateway_output_tokens_total", "counter", "Generated tokens of finished requests.");
        let _ = writeln!(out, "sipp_gateway_output_tokens_total {}", self.output_tokens.load(Ordering::Relaxed));
        header(&mut out, "sipp_gateway_request_duration_seconds", "histogram", "Request latency by operation.");
        for (op, h) in lock(&self.latency).iter() {
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ =
                    writeln!(out, "sipp_gateway_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{le}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "sipp_gateway_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "sipp_gateway_request_duration_seconds_sum{{operation=\"{op}\"}} {}", h.sum);
            let _ = writeln!(out, "sipp_gateway_request_duration_seconds_count{{operation=\"{op}\"}} {}", h.count);
        }
        out.push_str(extra);
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_cumulative_buckets() {
        let m = Metrics::default();
        {
            let _f = m.in_flight();
            assert!(m.render("").contains("sipp_gateway_in_flight_requests 1"));
        }
        m.finished("chat", 200, None, Duration::from_millis(3));
        m.finished("chat", 429, Some("overloaded"), Duration::from_micros(100));
        m.rejected("overloaded");
        m.tokens(8, 12);
        m.connection_opened("public");
        m.connection_opened("public");
        m.connection_closed("public");
        m.connection_refused("public");
        let text = m.render("");
        for line in [
            "sipp_gateway_requests_total{operation=\"chat\",status=\"200\"} 1",
            "sipp_gateway_errors_total{operation=\"chat\",code=\"overloaded\"} 1",
            "sipp_gateway_rejections_total{reason=\"overloaded\"} 1",
            "sipp_gateway_in_flight_requests 0",
            "sipp_gateway_output_tokens_total 12",
            "sipp_gateway_open_connections{listener=\"public\"} 1",
            "sipp_gateway_connections_closed_total{listener=\"public\",reason=\"refused\"} 1",
            "sipp_gateway_request_duration_seconds_bucket{operation=\"chat\",le=\"0.0005\"} 1",
            "sipp_gateway_request_duration_seconds_bucket{operation=\"chat\",le=\"0.005\"} 2",
            "sipp_gateway_request_duration_seconds_bucket{operation=\"chat\",le=\"+Inf\"} 2",
            "sipp_gateway_request_duration_seconds_count{operation=\"chat\"} 2",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }
}
