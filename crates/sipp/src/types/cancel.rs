//! Cancelling a run: one token shared by the run handle and whatever executes the
//! request (engine sequence or HTTP stream); cancelling and dropping take one path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Shared between a run handle and the engine; cancelling and dropping take one path.
#[derive(Debug, Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl CancelToken {
    pub fn cancel(&self, reason: &str) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert_with(|| reason.to_string());
        }
        self.cancelled.store(true, Ordering::Release);
    }

    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    #[must_use]
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }
}
