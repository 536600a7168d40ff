//! Every admin action, newest last: which session, what, when. In memory and bounded
//! like the rest of the dashboard's state; each entry is also logged, so a restart loses
//! the list but not the record.

use crate::sync::lock;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

const KEEP: usize = 1000;

/// One admin action.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub at: u64,
    /// The session's public handle (`-` before login).
    pub session: String,
    pub client: String,
    /// `login`, `login_failed`, `block`, `disable`, …
    pub action: &'static str,
    /// What it acted on, in words (never a secret).
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Audit(Mutex<VecDeque<AuditEntry>>);

impl Audit {
    pub fn push(&self, session: &str, client: &str, action: &'static str, detail: impl Into<String>) {
        let entry = AuditEntry {
            at: crate::controls::unix_ms(),
            session: session.to_string(),
            client: client.to_string(),
            action,
            detail: detail.into(),
        };
        tracing::info!(session = %entry.session, client = %entry.client, action, detail = %entry.detail, "admin");
        let mut list = lock(&self.0);
        if list.len() == KEEP {
            list.pop_front();
        }
        list.push_back(entry);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<AuditEntry> {
        lock(&self.0).iter().rev().cloned().collect()
    }
}
