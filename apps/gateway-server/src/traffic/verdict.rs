//! What a store is asked and answers: the scopes a request counts against (its caller,
//! its target) with their limits, and either a grant with what remains or the limit
//! that refused it and how long to wait.

use super::config::TrafficLimits;

/// One thing that has limits: `caller:<label>` or `target:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub key: String,
    pub limits: TrafficLimits,
}

impl Scope {
    pub fn caller(label: &str, limits: TrafficLimits) -> Self {
        Self { key: format!("caller:{label}"), limits }
    }

    pub fn target(name: &str, limits: TrafficLimits) -> Self {
        Self { key: format!("target:{name}"), limits }
    }

    /// `caller` or `target`.
    pub fn kind(&self) -> &str {
        self.key.split_once(':').map_or("", |(k, _)| k)
    }

    /// The label or target name.
    pub fn name(&self) -> &str {
        self.key.split_once(':').map_or(&self.key, |(_, n)| n)
    }
}

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Requests,
    Tokens,
    Streams,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests_per_minute",
            Self::Tokens => "tokens_per_minute",
            Self::Streams => "max_concurrent_streams",
        }
    }

    /// The store's code for it (the Lua scripts return it).
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Requests),
            2 => Some(Self::Tokens),
            3 => Some(Self::Streams),
            _ => None,
        }
    }
}

/// One per-minute bucket as the request left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub limit: u32,
    pub remaining: u64,
    /// Until the bucket is full again.
    pub reset_ms: u64,
}

/// What remains in one scope after the grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    pub requests: Option<Level>,
    pub tokens: Option<Level>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// In scope order.
    Admitted(Vec<Remaining>),
    Limited(Limited),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// Index into the scopes asked.
    pub scope: usize,
    pub kind: LimitKind,
    /// How long until the request would fit; `None` when it never can (it needs more
    /// tokens than the whole per-minute limit).
    pub retry_after_ms: Option<u64>,
}
