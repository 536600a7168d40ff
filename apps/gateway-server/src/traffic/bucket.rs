//! One token bucket: full (`capacity`, the per-minute limit) at start, refilled at
//! `capacity` per minute, never above it. A take succeeds only when the level covers it;
//! a settle may push the level below zero (a request that used more than it reserved
//! pays its debt before the next one runs). `lua/admit.lua` does the same arithmetic on
//! Redis's clock, so a limit means one thing whichever store counts it.

/// Milliseconds in the bucket's period.
pub const PERIOD_MS: f64 = 60_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub level: f64,
    /// When `level` was last brought up to date, in the store's milliseconds.
    pub at_ms: f64,
}

impl Bucket {
    pub fn full(capacity: u32, now_ms: f64) -> Self {
        Self { level: f64::from(capacity), at_ms: now_ms }
    }

    /// Refill up to `now_ms`.
    pub fn refill(&mut self, capacity: u32, now_ms: f64) {
        let cap = f64::from(capacity);
        let elapsed = (now_ms - self.at_ms).max(0.0);
        self.level = (self.level + elapsed * cap / PERIOD_MS).min(cap);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Milliseconds until the level reaches `amount` (0 if it has).
    pub fn wait_ms(&self, capacity: u32, amount: f64) -> u64 {
        let missing = amount - self.level;
        if missing <= 0.0 {
            return 0;
        }
        // Rounded up: a client that waits exactly this long finds the tokens there.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (missing * PERIOD_MS / f64::from(capacity)).ceil() as u64;
        ms
    }

    /// Whole units available now.
    pub fn remaining(&self) -> u64 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = self.level.max(0.0).floor() as u64;
        whole
    }

    /// Give `amount` back (negative: charge it), never above `capacity`.
    pub fn credit(&mut self, capacity: u32, amount: f64) {
        self.level = (self.level + amount).min(f64::from(capacity));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_the_per_minute_rate_up_to_capacity() {
        let mut b = Bucket::full(600, 0.0);
        b.level -= 600.0;
        b.refill(600, 1_000.0);
        assert!((b.level - 10.0).abs() < 1e-9, "600/min is 10/s: {}", b.level);
        assert_eq!(b.wait_ms(600, 100.0), 9_000);
        b.refill(600, 10_000_000.0);
        assert_eq!(b.remaining(), 600);
        // A clock that goes back (another replica's view) never drains the bucket.
        b.refill(600, 5.0);
        assert_eq!(b.remaining(), 600);
    }

    #[test]
    fn debt_delays_the_next_take() {
        let mut b = Bucket::full(60, 0.0);
        b.credit(60, -90.0);
        assert_eq!(b.remaining(), 0);
        assert_eq!(b.wait_ms(60, 1.0), 31_000, "30 tokens of debt, then one more, at 1/s");
        b.credit(60, 1_000.0);
        assert_eq!(b.remaining(), 60, "a refund never overfills");
    }
}
