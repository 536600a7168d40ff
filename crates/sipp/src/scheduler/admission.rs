use crate::error::{Result, SippError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bounded admission: overload is an error the caller sees at submit time, never an
/// unbounded wait. A request is accepted while a running place is free or the waiting
/// room (`max_queued_requests`) has space; the engine reports when a request starts
/// running and when it ends.
#[derive(Debug)]
pub(crate) struct Admission {
    /// Accepted and not yet ended: running plus waiting.
    outstanding: AtomicUsize,
    running: AtomicUsize,
    /// Requests the engine runs at once; known once the model is loaded.
    running_limit: AtomicUsize,
    /// Requests that may wait for a running place (`scheduler.max_queued_requests`).
    queue_limit: usize,
}

/// Default bound on waiting requests when `max_queued_requests` is unset.
const DEFAULT_QUEUE_LIMIT: usize = 1024;

impl Admission {
    pub(crate) fn new(queue_limit: Option<u32>) -> Self {
        Self {
            outstanding: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            running_limit: AtomicUsize::new(0),
            queue_limit: queue_limit.map_or(DEFAULT_QUEUE_LIMIT, |n| n as usize),
        }
    }

    /// How many requests the engine runs at once (set before the first request).
    pub(crate) fn set_running_limit(&self, n: u32) {
        self.running_limit.store(n as usize, Ordering::Release);
    }

    /// Accept a request or refuse it at once.
    pub(crate) fn enter(&self) -> Result<()> {
        let running_limit = self.running_limit.load(Ordering::Acquire);
        let capacity = running_limit + self.queue_limit;
        self.outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < capacity).then_some(n + 1))
            .map(|_| ())
            .map_err(|n| {
                let waiting = n.saturating_sub(self.running.load(Ordering::Acquire));
                SippError::Overloaded(format!(
                    "{waiting} requests already waiting (scheduler.max_queued_requests = {}) behind {} \
                     running (scheduler.max_running_requests = {})",
                    self.queue_limit,
                    n - waiting,
                    running_limit
                ))
            })
    }

    /// An accepted request left the waiting room and runs.
    pub(crate) fn started(&self) {
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    /// An accepted request ended (done, cancelled or failed); `was_running` says whether
    /// it had [`started`](Self::started).
    pub(crate) fn finished(&self, was_running: bool) {
        if was_running {
            let _ = self.running.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
        let _ = self.outstanding.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Requests running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Accepted requests not running yet.
    pub(crate) fn waiting(&self) -> usize {
        self.outstanding.load(Ordering::Acquire).saturating_sub(self.running.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_running_plus_queue_and_recovers() {
        let a = Admission::new(Some(2));
        a.set_running_limit(1);
        for _ in 0..3 {
            a.enter().unwrap();
        }
        a.started();
        let e = a.enter().unwrap_err();
        assert_eq!(e.code(), "overloaded");
        assert!(e.to_string().contains("2 requests already waiting"), "{e}");
        a.finished(true);
        a.enter().unwrap();
        assert_eq!(a.waiting(), 3);
    }

    /// `max_queued_requests = 0` bounds waiting, not running: a free place admits.
    #[test]
    fn zero_queue_still_admits_into_a_free_running_place() {
        let a = Admission::new(Some(0));
        a.set_running_limit(1);
        a.enter().unwrap();
        assert_eq!(a.enter().unwrap_err().code(), "overloaded");
        a.started();
        a.finished(true);
        a.enter().unwrap();
        assert_eq!(a.waiting(), 1);
    }
}
