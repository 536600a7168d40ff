//! The traffic-control keys of the TOML: the three limits a `[[tokens]]` entry or a
//! target's `[targets.limits]` may set, and `[state]`, where several replicas keep what
//! those limits count.

use serde::Deserialize;
use std::time::Duration;

/// Limits of one caller or one target; unset means unlimited. Counted per minute as
/// token buckets (full at start, refilled continuously), so a caller can burst its whole
/// minute at once and then runs at the steady rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficLimits {
    pub requests_per_minute: Option<u32>,
    /// Prompt plus generated tokens. A request reserves its worst case at admission and
    /// gets the unused part back when it ends.
    pub tokens_per_minute: Option<u32>,
    /// Requests running at once (a stream until its last event, a JSON answer until it
    /// is sent).
    pub max_concurrent_streams: Option<u32>,
}

impl TrafficLimits {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `(name, value)` of each limit, set or not, in a fixed order.
    pub fn named(&self) -> [(&'static str, Option<u32>); 3] {
        [
            ("requests_per_minute", self.requests_per_minute),
            ("tokens_per_minute", self.tokens_per_minute),
            ("max_concurrent_streams", self.max_concurrent_streams),
        ]
    }

    /// `(field, message)` for each limit set to zero (omit it for no limit).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        self.named()
            .into_iter()
            .filter(|(_, v)| *v == Some(0))
            .map(|(name, _)| (name, "must be greater than zero (omit it for no limit)".to_string()))
            .collect()
    }
}

/// What a replica does while the shared store cannot be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// Refuse limited requests with 503 `unavailable` and report not ready: no request
    /// runs uncounted (the choice when bills depend on the limits).
    #[default]
    FailClosed,
    /// Count in this replica's memory until the store is back: every limit still holds
    /// per replica, so N replicas admit at most N times a limit meanwhile.
    FailOpen,
}

/// `[state]`: where limits are counted. Absent: in this process's memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// `redis://host:port/db` (or `rediss://`, `redis+unix://`); Valkey speaks the same.
    /// A password belongs in `redis_password_env`, not here.
    pub redis_url: String,
    /// The env variable holding the Redis password (AUTH), if the server wants one.
    #[serde(default)]
    pub redis_password_env: Option<String>,
    #[serde(default)]
    pub on_unreachable: Unreachable,
    /// The longest one round trip to Redis may take before the request is treated as
    /// "store unreachable"; no request ever waits on Redis longer than this.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How long the slot of a running request outlives its replica: a replica renews
    /// its slots every third of this, so the slots of one that crashed free themselves.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// Prefix of every key, so several gateways can share one Redis database.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
}

fn default_timeout_ms() -> u64 {
    250
}

fn default_lease_seconds() -> u64 {
    30
}

fn default_prefix() -> String {
    "sipp:".into()
}

impl StateConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }

    /// `(field, message)` for every value that cannot be served.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let schemes = ["redis://", "rediss://", "redis+unix://", "unix://", "valkey://", "valkeys://"];
        // A URL with credentials is refused without being repeated.
        if self.redis_url.contains('@') {
            out.push(("redis_url", "must not hold a password; name its variable in redis_password_env".into()));
        } else if !schemes.iter().any(|s| self.redis_url.starts_with(s)) {
            out.push(("redis_url", format!("`{}` is not a redis:// or rediss:// URL", self.redis_url)));
        } else if redis::Client::open(self.redis_url.as_str()).is_err() {
            out.push(("redis_url", format!("`{}` is not a valid Redis URL", self.redis_url)));
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            out.push(("timeout_ms", "must be between 1 and 60000".into()));
        }
        if !(3..=3600).contains(&self.lease_seconds) {
            out.push(("lease_seconds", "must be between 3 and 3600".into()));
        }
        out
    }
}
