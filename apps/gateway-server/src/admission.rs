//! `max_concurrent_requests` as a counter whose limit an operator can change while the
//! gateway runs (the dashboard's runtime override): lowering it refuses new requests until
//! enough running ones finish, raising it admits more at once; running requests are never
//! cut short. A permit is held until the request's last streamed event.

use sipp::gateway_core::{AdmissionController, AdmissionPermit, GatewayRefusal};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// No limit (`max_concurrent_requests` unset).
const UNLIMITED: u64 = u64::MAX;

#[derive(Debug)]
pub struct Admission {
    limit: AtomicU64,
    held: Arc<AtomicU64>,
}

/// Gives its place back when the request's run is dropped.
#[derive(Debug)]
struct Place(Arc<AtomicU64>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub fn new(limit: Option<u32>) -> Self {
        Self { limit: AtomicU64::new(limit.map_or(UNLIMITED, u64::from)), held: Arc::default() }
    }

    /// The limit now (`None`: unlimited).
    pub fn limit(&self) -> Option<u32> {
        let l = self.limit.load(Ordering::Acquire);
        (l != UNLIMITED).then(|| u32::try_from(l).unwrap_or(u32::MAX))
    }

    pub fn set_limit(&self, limit: Option<u32>) {
        self.limit.store(limit.map_or(UNLIMITED, u64::from), Ordering::Release);
    }

    /// Places held by running requests.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }
}

impl AdmissionController for Admission {
    fn admit(&self) -> Result<AdmissionPermit, GatewayRefusal> {
        // Counted also without a limit, so one set later sees what already runs.
        let limit = self.limit.load(Ordering::Acquire);
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .map(|_| AdmissionPermit::holding(Place(Arc::clone(&self.held))))
            .map_err(|_| GatewayRefusal::Overloaded("max_concurrent_requests admission limit is full".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_changes_while_places_are_held() {
        let a = Admission::new(Some(1));
        let first = a.admit().unwrap();
        assert!(a.admit().is_err(), "full at 1");
        a.set_limit(Some(2));
        let second = a.admit().unwrap();
        assert_eq!(a.held(), 2);
        a.set_limit(Some(1));
        drop(first);
        assert!(a.admit().is_err(), "still one held against a limit of 1");
        drop(second);
        let third = a.admit().unwrap();
        a.set_limit(None);
        let many: Vec<_> = (0..10).map(|_| a.admit().unwrap()).collect();
        assert_eq!((a.limit(), a.held()), (None, 11));
        a.set_limit(Some(5));
        assert!(a.admit().is_err(), "places taken while unlimited count against a new limit");
        drop((many, third));
        assert_eq!(a.held(), 0);
    }
}
