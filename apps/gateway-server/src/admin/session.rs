//! Admin sessions: the password check (constant time, over digests so the length does not
//! show either), per-client-IP throttling of wrong passwords, and short-lived sessions
//! with their CSRF tokens. A session is known by two values: the cookie's secret (never
//! shown again after login) and a public handle (a digest prefix) that lists, audit
//! entries and revocation use.

use crate::sync::lock;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// A session ends after this long without a request...
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// ... and this long after login in any case.
pub const ABSOLUTE: Duration = Duration::from_secs(8 * 60 * 60);
/// Wrong passwords a client may send within [`THROTTLE_WINDOW`] before it must wait.
pub const MAX_FAILURES: usize = 5;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Sessions held at once; the oldest goes first (a login loop cannot grow memory).
const MAX_SESSIONS: usize = 64;
/// Clients whose failures are remembered at once.
const MAX_TRACKED: usize = 10_000;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The public handle.
    pub id: String,
    pub csrf: String,
    pub client: IpAddr,
    pub created: Instant,
    pub created_at: u64,
    last_seen: Instant,
}

/// A session as the dashboard lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionView {
    /// The public handle (never the cookie's secret).
    pub id: String,
    pub client: String,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds when it ends unless used again.
    pub expires_at: u64,
}

#[derive(Debug)]
pub struct Sessions {
    /// Keyed by the digest of the cookie secret (the secret itself is not kept).
    live: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    idle_ms: AtomicU64,
}

impl Default for Sessions {
    fn default() -> Self {
        Self { live: Mutex::default(), failures: Mutex::default(), idle_ms: AtomicU64::new(millis(IDLE)) }
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefused {
    WrongPassword,
    /// Too many wrong passwords from this client: seconds to wait.
    Throttled(u64),
    /// The operating system's random generator failed: no safe session can be made.
    NoRandomness,
}

impl Sessions {
    /// A shorter idle timeout (tests, and deployments that want one).
    pub fn set_idle_timeout(&self, idle: Duration) {
        self.idle_ms.store(millis(idle), Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms.load(Ordering::Relaxed))
    }

    /// Check `given` against `password`; on success a new session and its cookie secret.
    pub fn login(&self, password: &str, given: &str, client: IpAddr) -> Result<(String, Session), LoginRefused> {
        let now = Instant::now();
        if let Some(recent) = lock(&self.failures).get_mut(&client) {
            recent.retain(|t| now.duration_since(*t) < THROTTLE_WINDOW);
            if recent.len() >= MAX_FAILURES {
                // Even the right password waits: otherwise guessing simply continues.
                let wait = THROTTLE_WINDOW.saturating_sub(now.duration_since(recent[0]));
                return Err(LoginRefused::Throttled(wait.as_secs().max(1)));
            }
        }
        let matches: bool = Sha256::digest(password.as_bytes()).ct_eq(&Sha256::digest(given.as_bytes())).into();
        if !matches {
            let mut failures = lock(&self.failures);
            // Bounded: when full, clients whose failures all aged out make room first.
            if failures.len() >= MAX_TRACKED && !failures.contains_key(&client) {
                failures.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < THROTTLE_WINDOW));
            }
            if failures.len() < MAX_TRACKED || failures.contains_key(&client) {
                failures.entry(client).or_default().push(now);
            }
            return Err(LoginRefused::WrongPassword);
        }
        lock(&self.failures).remove(&client);
        let secret = random_token().ok_or(LoginRefused::NoRandomness)?;
        let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let session = Session {
            id: handle(&key),
            csrf: random_token().ok_or(LoginRefused::NoRandomness)?,
            client,
            created: now,
            created_at: crate::controls::unix_ms(),
            last_seen: now,
        };
        let mut live = lock(&self.live);
        self.prune(&mut live, now);
        if live.len() >= MAX_SESSIONS {
            if let Some(oldest) = live.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k) {
                live.remove(&oldest);
            }
        }
        live.insert(key, session.clone());
        Ok((secret, session))
    }

    /// The live session of a cookie secret, refreshed; `None` when unknown or expired.
    pub fn touch(&self, secret: &str) -> Option<Session> {
        let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let now = Instant::now();
        let mut live = lock(&self.live);
        self.prune(&mut live, now);
        let s = live.get_mut(&key)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// End the session with this cookie secret.
    pub fn logout(&self, secret: &str) {
        let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        lock(&self.live).remove(&key);
    }

    /// End a session by its public handle.
    pub fn revoke(&self, id: &str) -> bool {
        let mut live = lock(&self.live);
        let before = live.len();
        live.retain(|_, s| s.id != id);
        live.len() < before
    }

    pub fn list(&self) -> Vec<SessionView> {
        let now = Instant::now();
        let mut live = lock(&self.live);
        self.prune(&mut live, now);
        let mut out: Vec<SessionView> = live.values().map(|s| self.view(s, now)).collect();
        out.sort_by_key(|s| s.created_at);
        out
    }

    pub fn view(&self, s: &Session, now: Instant) -> SessionView {
        let left = self.expires(s).saturating_duration_since(now);
        SessionView {
            id: s.id.clone(),
            client: s.client.to_string(),
            created_at: s.created_at,
            expires_at: crate::controls::unix_ms() + millis(left),
        }
    }

    fn expires(&self, s: &Session) -> Instant {
        (s.last_seen + self.idle()).min(s.created + ABSOLUTE)
    }

    fn prune(&self, live: &mut HashMap<[u8; 32], Session>, now: Instant) {
        live.retain(|_, s| self.expires(s) > now);
    }
}

/// Whether `given` is the session's CSRF token (constant time).
pub fn csrf_matches(session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|g| bool::from(Sha256::digest(g.as_bytes()).ct_eq(&Sha256::digest(session.csrf.as_bytes()))))
}

/// 256 random bits from the OS, URL-safe; there is no weaker fallback.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A short public name for a session, from its key (not reversible to the secret).
fn handle(key: &[u8; 32]) -> String {
    Sha256::digest(key)[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn login_touch_logout_and_revoke() {
        let s = Sessions::default();
        assert_eq!(s.login("pw", "nope", IP).unwrap_err(), LoginRefused::WrongPassword);
        let (secret, session) = s.login("pw", "pw", IP).unwrap();
        assert_ne!(secret, session.csrf);
        assert!(!secret.contains(&session.id) && session.id.len() == 12);
        assert_eq!(s.touch(&secret).unwrap().id, session.id);
        assert!(s.touch("forged").is_none());
        assert!(csrf_matches(&session, Some(&session.csrf)));
        assert!(!csrf_matches(&session, Some("x")) && !csrf_matches(&session, None));
        s.logout(&secret);
        assert!(s.touch(&secret).is_none());
        let (secret, session) = s.login("pw", "pw", IP).unwrap();
        assert_eq!(s.list().len(), 1);
        assert!(s.revoke(&session.id) && !s.revoke(&session.id));
        assert!(s.touch(&secret).is_none());
    }

    #[test]
    fn wrong_passwords_are_throttled_per_client() {
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert_eq!(s.login("pw", "guess", IP).unwrap_err(), LoginRefused::WrongPassword);
        }
        assert!(matches!(s.login("pw", "pw", IP), Err(LoginRefused::Throttled(w)) if w > 200));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(s.login("pw", "pw", other).is_ok(), "another client is not affected");
    }

    #[test]
    fn right_passwords_leave_no_trace_and_failures_stay_bounded() {
        let s = Sessions::default();
        for i in 0..50u8 {
            s.login("pw", "pw", IpAddr::from([10, 0, 0, i])).unwrap();
        }
        assert!(lock(&s.failures).is_empty(), "only wrong passwords are remembered");
        for i in 0..(u32::try_from(MAX_TRACKED).unwrap() + 100) {
            let _ = s.login("pw", "guess", IpAddr::from(i.to_be_bytes()));
        }
        assert_eq!(lock(&s.failures).len(), MAX_TRACKED);
    }

    #[test]
    fn idle_sessions_expire_and_sessions_are_capped() {
        let s = Sessions::default();
        s.set_idle_timeout(Duration::from_millis(30));
        let (secret, _) = s.login("pw", "pw", IP).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert!(s.touch(&secret).is_none());
        s.set_idle_timeout(IDLE);
        for _ in 0..(MAX_SESSIONS + 5) {
            s.login("pw", "pw", IP).unwrap();
        }
        assert_eq!(s.list().len(), MAX_SESSIONS);
    }
}
