//! Per-client-IP token buckets (`[security.rate_limit]`): `burst` requests at once,
//! refilled at `requests_per_minute`. In memory; reset on restart, as the spec says.

use crate::config::RateLimitConfig;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

#[derive(Debug)]
pub struct ClientRateLimit {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>,
}

impl ClientRateLimit {
    /// `None` when disabled.
    pub fn new(config: &RateLimitConfig) -> Option<Self> {
        if !config.enabled {
            return None;
        }
        let per_minute = NonZeroU32::new(config.requests_per_minute)?;
        let burst = NonZeroU32::new(config.burst)?;
        Some(Self { limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)) })
    }

    /// `Err(seconds)` to wait when the client's bucket is empty.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default()));
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}
