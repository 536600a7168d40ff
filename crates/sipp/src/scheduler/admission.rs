use crate::error::{Result, SippError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bounded waiting room: overload is an error the caller sees at submit time, never an
/// unbounded wait. Shared by the submitting side (acquire) and the engine (release).
#[derive(Debug)]
pub(crate) struct Admission {
    waiting: AtomicUsize,
    limit: usize,
}

/// Default bound on waiting requests when `max_queued_requests` is unset.
const DEFAULT_QUEUE_LIMIT: usize = 1024;

impl Admission {
    pub(crate) fn new(limit: Option<u32>) -> Self {
        Self {
            waiting: AtomicUsize::new(0),
            limit: limit.map_or(DEFAULT_QUEUE_LIMIT, |n| n as usize),
        }
    }

    /// Reserve a waiting place or refuse at once.
    pub(crate) fn enter(&self) -> Result<()> {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1))
            .map(|_| ())
            .map_err(|n| {
                SippError::Overloaded(format!(
                    "{n} requests already waiting (scheduler.max_queued_requests = {})",
                    self.limit
                ))
            })
    }

    /// A request left the waiting room (it got a slot, was cancelled, or failed).
    pub(crate) fn leave(&self) {
        let _ = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_recovers() {
        let a = Admission::new(Some(2));
        a.enter().unwrap();
        a.enter().unwrap();
        assert_eq!(a.enter().unwrap_err().code(), "overloaded");
        a.leave();
        a.enter().unwrap();
        assert_eq!(a.waiting(), 2);
    }

    #[test]
    fn zero_limit_refuses_everything() {
        assert!(Admission::new(Some(0)).enter().is_err());
    }
}
