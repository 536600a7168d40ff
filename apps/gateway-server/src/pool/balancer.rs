//! One pool's members and the choice among them: which members can take a request now
//! (healthy by their last probe, not ejected, not disabled), which one should (the
//! prefix's rendezvous member unless it is hot, else the least loaded or the next in
//! turn), and in what order the rest are tried if it cannot start the request.

use super::config::{Balance, PoolTarget};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Failures that say a member is broken rather than busy (a 429 or a full queue is load,
/// not a fault): counted towards its ejection.
pub const BROKEN: [&str; 6] = [
    "unavailable",
    "endpoint_closed",
    "upstream_unavailable",
    "upstream_connection",
    "upstream_timeout",
    "upstream_protocol",
];

#[derive(Debug)]
pub struct Member {
    pub name: String,
    /// Requests running on it through this replica.
    outstanding: AtomicU32,
    /// Failures in a row (reset by a success).
    failures: AtomicU32,
    /// Pool-clock milliseconds until which it takes nothing (0: not ejected).
    ejected_until_ms: AtomicU64,
    /// The last probe's answer.
    healthy: AtomicBool,
    pub ejections: AtomicU64,
    /// First choices, by why: affinity, least loaded, in turn.
    pub picks: [AtomicU64; 3],
}

/// Why the first member was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Affinity,
    LeastOutstanding,
    RoundRobin,
}

impl Pick {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Affinity => "affinity",
            Self::LeastOutstanding => "least_outstanding",
            Self::RoundRobin => "round_robin",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
pub struct Pool {
    pub config: PoolTarget,
    pub members: Vec<Member>,
    turn: AtomicUsize,
    epoch: Instant,
}

impl Pool {
    pub fn new(config: PoolTarget) -> Self {
        let members = config
            .members
            .iter()
            .map(|name| Member {
                name: name.clone(),
                outstanding: AtomicU32::new(0),
                failures: AtomicU32::new(0),
                ejected_until_ms: AtomicU64::new(0),
                healthy: AtomicBool::new(true),
                ejections: AtomicU64::new(0),
                picks: Default::default(),
            })
            .collect();
        Self { config, members, turn: AtomicUsize::new(0), epoch: Instant::now() }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether member `i` takes requests now (by health and ejection).
    pub fn available(&self, i: usize) -> bool {
        let m = &self.members[i];
        m.healthy.load(Ordering::Acquire) && m.ejected_until_ms.load(Ordering::Acquire) <= self.now_ms()
    }

    pub fn outstanding(&self, i: usize) -> u32 {
        self.members[i].outstanding.load(Ordering::Acquire)
    }

    /// Members to try, first choice first, and why it was first. `key` is the prompt's
    /// prefix (already cut to `affinity_prefix_chars`); `usable` says whether the
    /// operator lets a member serve (not disabled). Unavailable members are left out
    /// unless none is available: then every usable one is tried, least loaded first.
    pub fn order(&self, key: Option<&str>, usable: impl Fn(&str) -> bool) -> (Vec<usize>, Pick) {
        let usable: Vec<usize> = (0..self.members.len()).filter(|&i| usable(&self.members[i].name)).collect();
        let mut up: Vec<usize> = usable.iter().copied().filter(|&i| self.available(i)).collect();
        if up.is_empty() {
            up = usable;
        }
        // Ties go round: equal load does not always land on the first member.
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let n = up.len().max(1);
        up.rotate_left(turn % n);
        let least = up.iter().copied().min_by_key(|&i| self.outstanding(i));
        let (first, pick) = match (key.filter(|k| !k.is_empty() && self.config.affinity_prefix_chars > 0), least) {
            (_, None) => return (Vec::new(), Pick::LeastOutstanding),
            (Some(key), Some(least)) => {
                let home = self.rendezvous(key, &up);
                let hot = self.outstanding(home) > self.outstanding(least) + self.config.affinity_max_extra;
                if hot {
                    (least, Pick::LeastOutstanding)
                } else {
                    (home, Pick::Affinity)
                }
            }
            (None, Some(least)) => match self.config.balance {
                Balance::LeastOutstanding => (least, Pick::LeastOutstanding),
                Balance::RoundRobin => (up[0], Pick::RoundRobin),
            },
        };
        self.members[first].picks[pick.index()].fetch_add(1, Ordering::Relaxed);
        let mut rest: Vec<usize> = up.into_iter().filter(|&i| i != first).collect();
        rest.sort_by_key(|&i| self.outstanding(i));
        (std::iter::once(first).chain(rest).collect(), pick)
    }

    /// The member of `among` whose hash with `key` is highest: the same on every replica
    /// and for every request with this prefix, and only the keys of a member that goes
    /// away move.
    fn rendezvous(&self, key: &str, among: &[usize]) -> usize {
        let prefix = Sha256::digest(key.as_bytes());
        let score = |i: usize| {
            let mut h = Sha256::new();
            h.update(self.members[i].name.as_bytes());
            h.update([0]);
            h.update(prefix);
            let d = h.finalize();
            u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
        };
        among.iter().copied().max_by_key(|&i| score(i)).unwrap_or(among[0])
    }

    /// The answer of member `i`'s probe.
    pub fn probed(&self, i: usize, healthy: bool) {
        let was = self.members[i].healthy.swap(healthy, Ordering::AcqRel);
        if was != healthy {
            tracing::warn!(pool = %self.config.name, member = %self.members[i].name, healthy, "pool member health changed");
        }
    }

    pub fn healthy(&self, i: usize) -> bool {
        self.members[i].healthy.load(Ordering::Acquire)
    }

    fn succeeded(&self, i: usize) {
        self.members[i].failures.store(0, Ordering::Release);
    }

    /// A failure that says the member is broken (not busy): after
    /// `eject_after_failures` in a row it is ejected for `eject_seconds`.
    fn failed(&self, i: usize) {
        let m = &self.members[i];
        let n = m.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.config.eject_after_failures {
            m.failures.store(0, Ordering::Release);
            let until = self.now_ms() + self.config.eject_seconds.saturating_mul(1000);
            m.ejected_until_ms.store(until, Ordering::Release);
            m.ejections.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(pool = %self.config.name, member = %m.name, failures = n, seconds = self.config.eject_seconds, "pool member ejected");
        }
    }
}

/// One request running on a member: counted in its outstanding requests until dropped;
/// the request's outcome is reported on it.
#[derive(Debug)]
pub struct MemberGuard {
    pool: Arc<Pool>,
    index: usize,
}

impl MemberGuard {
    pub fn new(pool: &Arc<Pool>, index: usize) -> Self {
        pool.members[index].outstanding.fetch_add(1, Ordering::AcqRel);
        Self { pool: Arc::clone(pool), index }
    }

    pub fn succeeded(&self) {
        self.pool.succeeded(self.index);
    }

    pub fn failed(&self) {
        self.pool.failed(self.index);
    }
}

impl Drop for MemberGuard {
    fn drop(&mut self) {
        self.pool.members[self.index].outstanding.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(balance: Balance, affinity: usize) -> Arc<Pool> {
        Arc::new(Pool::new(PoolTarget {
            name: "p".into(),
            members: vec!["a".into(), "b".into(), "c".into()],
            balance,
            affinity_prefix_chars: affinity,
            affinity_max_extra: 2,
            eject_after_failures: 2,
            eject_seconds: 60,
            health_check_seconds: 0,
            limits: Default::default(),
            fallbacks: Vec::new(),
        }))
    }

    #[test]
    fn a_prefix_keeps_its_member_until_it_is_hot() {
        let p = pool(Balance::LeastOutstanding, 64);
        let (order, pick) = p.order(Some("You are a pirate."), |_| true);
        assert_eq!((order.len(), pick), (3, Pick::Affinity));
        let home = order[0];
        for _ in 0..10 {
            assert_eq!(p.order(Some("You are a pirate."), |_| true).0[0], home, "the same prefix, the same member");
        }
        let homes: std::collections::HashSet<usize> =
            (0..32).map(|i| p.order(Some(&format!("agent {i}")), |_| true).0[0]).collect();
        assert_eq!(homes.len(), 3, "different prefixes spread over the members");
        let busy: Vec<MemberGuard> = (0..3).map(|_| MemberGuard::new(&p, home)).collect();
        let (order, pick) = p.order(Some("You are a pirate."), |_| true);
        assert_eq!(pick, Pick::LeastOutstanding);
        assert_ne!(order[0], home, "3 running beyond the others is hot (slack 2)");
        drop(busy);
        assert_eq!(p.order(Some("You are a pirate."), |_| true).0[0], home);
    }

    #[test]
    fn least_outstanding_and_round_robin() {
        let p = pool(Balance::LeastOutstanding, 0);
        let _a = MemberGuard::new(&p, 0);
        let _b = MemberGuard::new(&p, 1);
        let (order, _) = p.order(None, |_| true);
        assert_eq!(order[0], 2);
        let r = pool(Balance::RoundRobin, 0);
        let firsts: Vec<usize> = (0..6).map(|_| r.order(None, |_| true).0[0]).collect();
        assert_eq!(firsts.iter().collect::<std::collections::HashSet<_>>().len(), 3, "{firsts:?}");
    }

    #[test]
    fn failing_members_are_ejected_and_disabled_ones_skipped() {
        let p = pool(Balance::LeastOutstanding, 0);
        let g = MemberGuard::new(&p, 1);
        g.failed();
        assert!(p.available(1), "one failure is not enough");
        g.failed();
        assert!(!p.available(1));
        drop(g);
        for _ in 0..10 {
            assert!(!p.order(None, |_| true).0.contains(&1), "an ejected member is not tried");
        }
        assert!(!p.order(None, |m| m != "a").0.contains(&0), "a disabled member is not tried");
        p.probed(0, false);
        p.probed(2, false);
        assert_eq!(p.order(None, |_| true).0.len(), 3, "none available: every member is tried");
        assert_eq!(p.members[1].ejections.load(Ordering::Relaxed), 1);
    }
}
