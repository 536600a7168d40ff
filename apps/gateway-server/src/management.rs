//! The management listener: index, liveness, readiness (ready only once every target is
//! loaded), Prometheus metrics including each local target's engine counters. Never on
//! the public port; the Admin Dashboard beside these is in `admin`.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::fmt::Write;
use std::sync::Arc;

pub async fn index(State(s): State<Arc<AppState>>) -> Response {
    let r = &s.config.routes;
    let targets: Vec<_> = s.config.targets.iter().map(|t| json!({"name": t.name(), "type": t.type_name()})).collect();
    let body = json!({
        "service": "sipp-gateway",
        "version": env!("CARGO_PKG_VERSION"),
        "ready": s.is_ready(),
        "public_routes": {"query": r.query, "chat": r.chat, "embed": r.embed, "openai": r.openai_routes()},
        "management_routes": {"health": r.health, "readiness": r.readiness, "metrics": r.metrics, "admin": r.admin},
        "targets": targets,
    });
    axum::Json(body).into_response()
}

pub async fn health() -> &'static str {
    "ok"
}

pub async fn readiness(State(s): State<Arc<AppState>>) -> Response {
    if s.is_ready() {
        "ready".into_response()
    } else if s.traffic.ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "loading").into_response()
    } else {
        // `[state]` fails closed and Redis is away: limited requests would all get 503.
        (StatusCode::SERVICE_UNAVAILABLE, "shared limit store unreachable").into_response()
    }
}

pub async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let mut extra = target_metrics(&s);
    s.traffic.stats.render(&mut extra);
    s.pools.render(&mut extra);
    let text = s.metrics.render(&extra);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// One exported engine histogram: name, help, and which one.
type Histogram = (&'static str, &'static str, fn(&sipp::EngineStats) -> &sipp::LatencyHistogram);

/// One exported engine counter: name, Prometheus type, help, and how to read it.
type Series = (&'static str, &'static str, &'static str, fn(&sipp::EngineStats) -> u64);

/// Engine counters of local targets whose `stats` is not `off`.
fn target_metrics(s: &AppState) -> String {
    let rows = s.engine_stats();
    let mut out = String::new();
    let series: [Series; 18] = [
        ("sipp_target_decode_calls_total", "counter", "llama.cpp decode calls of a local target.", |e| e.decode_calls),
        ("sipp_target_completed_requests_total", "counter", "Requests a local target finished.", |e| {
            e.completed_requests
        }),
        (
            "sipp_target_cancelled_requests_total",
            "counter",
            "Requests cancelled on a local target (incl. disconnects).",
            |e| e.cancelled_requests,
        ),
        ("sipp_target_failed_requests_total", "counter", "Requests that failed on a local target.", |e| {
            e.failed_requests
        }),
        ("sipp_target_reused_prompt_tokens_total", "counter", "Prompt tokens served from reused KV.", |e| {
            e.reused_prompt_tokens
        }),
        ("sipp_target_waiting_requests", "gauge", "Requests queued on a local target.", |e| e.waiting_requests),
        (
            "sipp_target_snapshots_taken_total",
            "counter",
            "Slot states copied to host RAM (cache.mode snapshot).",
            |e| e.snapshots_taken,
        ),
        ("sipp_target_snapshot_restores_total", "counter", "Requests started from a restored snapshot.", |e| {
            e.snapshot_restores
        }),
        ("sipp_target_snapshot_restored_tokens_total", "counter", "Prompt tokens served by restored snapshots.", |e| {
            e.snapshot_restored_tokens
        }),
        (
            "sipp_target_snapshot_misses_total",
            "counter",
            "Long prompts neither a live slot nor a snapshot could serve.",
            |e| e.snapshot_misses,
        ),
        ("sipp_target_snapshot_evictions_total", "counter", "Snapshots dropped to stay within the limits.", |e| {
            e.snapshot_evictions
        }),
        ("sipp_target_snapshot_entries", "gauge", "Snapshots held in host RAM.", |e| e.snapshot_entries),
        ("sipp_target_snapshot_bytes", "gauge", "Bytes of the snapshots held in host RAM.", |e| e.snapshot_bytes),
        ("sipp_target_running_requests", "gauge", "Requests running on a local target.", |e| e.running_requests),
        ("sipp_target_kv_cells_used", "gauge", "KV cells holding tokens (running and retained).", |e| e.kv_cells_used),
        ("sipp_target_kv_cells", "gauge", "KV cells allocated.", |e| e.kv_cells_total),
        ("sipp_target_prompt_tokens_total", "counter", "Prompt tokens computed (reused excluded).", |e| {
            e.prompt_tokens
        }),
        ("sipp_target_generated_tokens_total", "counter", "Tokens sampled.", |e| e.generated_tokens),
    ];
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (target, stats) in &rows {
            let _ = writeln!(out, "{name}{{target=\"{target}\"}} {}", get(stats));
        }
    }
    let histograms: [Histogram; 2] = [
        ("sipp_target_time_to_first_token_seconds", "Submit to first token, per request.", |e| &e.ttft),
        ("sipp_target_inter_token_seconds", "Time between consecutive tokens of a request.", |e| &e.inter_token),
    ];
    for (name, help, get) in histograms {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (target, stats) in &rows {
            let h = get(stats);
            let bounds = sipp::LatencyHistogram::BOUNDS_MS.iter().map(|ms| format!("{}", *ms as f64 / 1000.0));
            for (le, count) in bounds.chain(std::iter::once("+Inf".to_string())).zip(h.cumulative()) {
                let _ = writeln!(out, "{name}_bucket{{target=\"{target}\",le=\"{le}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_sum{{target=\"{target}\"}} {}", h.sum_us as f64 / 1e6);
            let _ = writeln!(out, "{name}_count{{target=\"{target}\"}} {}", h.count);
        }
    }
    out
}
