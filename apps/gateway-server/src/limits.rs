//! `[limits]` (beyond the spec's TOML; every key optional): what one connection or
//! request may hold, so that slow, idle or oversized clients and slow upstreams cannot
//! take the gateway's sockets, memory or admission slots.

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open connections on the public listener; the next one gets a 503 and is closed.
    /// Lowered at `serve` when the process's open-file limit could not hold it.
    pub max_connections: u32,
    /// Open connections on the management listener (its own budget: probes stay
    /// reachable while the public listener is full).
    pub max_management_connections: u32,
    /// From connect, or from the end of the previous answer on a kept-alive connection,
    /// to a complete request header; then the connection is closed.
    pub header_timeout_seconds: u64,
    /// Reading a request body; then 408 `request_timeout`.
    pub body_timeout_seconds: u64,
    /// Longest request target (path and query); longer gets 414.
    pub max_uri_bytes: usize,
    /// Largest request header block; larger gets 431.
    pub max_header_bytes: usize,
    /// Inputs of one OpenAI-style `/embeddings` request (each is one embedding call).
    pub max_embedding_inputs: u32,
    /// The deadline of a provider target without `timeout_seconds`.
    pub upstream_timeout_seconds: u64,
    /// A stream waiting for its next event sends an SSE comment this often.
    pub stream_keep_alive_seconds: u64,
    /// Under a `tokens_per_minute` limit, the output a request without `max_tokens` is
    /// assumed to need at admission (a local target reserves its remaining context
    /// instead). Use beyond it is charged when the request ends.
    pub output_reservation_tokens: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_management_connections: 32,
            header_timeout_seconds: 15,
            body_timeout_seconds: 30,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_embedding_inputs: 256,
            upstream_timeout_seconds: 120,
            stream_keep_alive_seconds: 15,
            output_reservation_tokens: 1024,
        }
    }
}

impl LimitsConfig {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_seconds)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_seconds)
    }

    pub fn stream_keep_alive(&self) -> Duration {
        Duration::from_secs(self.stream_keep_alive_seconds)
    }

    /// `(path, message)` for every value that cannot be served.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut positive = |key: &str, value: u64| {
            if value == 0 {
                out.push((format!("limits.{key}"), "must be greater than zero".to_string()));
            }
        };
        positive("max_connections", self.max_connections.into());
        positive("max_management_connections", self.max_management_connections.into());
        positive("header_timeout_seconds", self.header_timeout_seconds);
        positive("body_timeout_seconds", self.body_timeout_seconds);
        positive("max_embedding_inputs", self.max_embedding_inputs.into());
        positive("upstream_timeout_seconds", self.upstream_timeout_seconds);
        positive("stream_keep_alive_seconds", self.stream_keep_alive_seconds);
        positive("output_reservation_tokens", self.output_reservation_tokens.into());
        // hyper's own parser refuses a request line or header block past its buffer
        // (with an empty body); the limits here must sit inside it to answer in JSON.
        for (key, value) in [("max_uri_bytes", self.max_uri_bytes), ("max_header_bytes", self.max_header_bytes)] {
            if !(256..=MAX_HEAD_BYTES / 2).contains(&value) {
                out.push((format!("limits.{key}"), format!("must be between 256 and {}", MAX_HEAD_BYTES / 2)));
            }
        }
        out
    }
}

/// hyper's read buffer for one request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 256 * 1024;
