//! Cancelling a run: one token shared by the run handle and whatever executes the
//! request (engine sequence or HTTP stream); cancelling and dropping take one path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// Shared between a run handle and the engine; cancelling and dropping take one path.
/// The engine polls [`is_cancelled`](Self::is_cancelled) each step; async work awaits
/// [`cancelled`](Self::cancelled).
#[derive(Debug, Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
    reason: Mutex<Option<String>>,
    notify: Notify,
}

impl CancelToken {
    pub fn cancel(&self, reason: &str) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert_with(|| reason.to_string());
        }
        self.cancelled.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Resolves once `cancel` has been called (at once if it already was).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a cancel between the two is not missed.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
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
