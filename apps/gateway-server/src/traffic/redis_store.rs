//! Limits counted in Redis (or Valkey), shared by every replica that names the same
//! `[state] redis_url` and `key_prefix`. Each admission and each settle is one script
//! (`lua/`): check and take in every scope at once, on the server's clock, in one round
//! trip. A running request holds a lease (a member of each scope's running set, scored by
//! its expiry) that its replica renews; a replica that dies stops renewing and its
//! leases expire, so a crash never holds a slot for good. Every call is bounded by
//! `[state] timeout_ms`.

use super::config::StateConfig;
use super::verdict::{Level, LimitKind, Limited, Remaining, Scope, Verdict};
use crate::sync::lock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, Script};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::OnceCell;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("Redis did not answer within {0} ms")]
    Timeout(u64),
    #[error("Redis: {0}")]
    Redis(String),
}

pub struct RedisStore {
    client: redis::Client,
    /// Made on first use: it needs the runtime, and Redis may not be up yet.
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    lease_ms: u64,
    /// This process's part of every lease name.
    replica: String,
    next: AtomicU64,
    /// Leases held now and the running sets they are in (what `renew` extends).
    leases: Mutex<HashMap<String, Vec<String>>>,
    admit: Script,
    settle: Script,
    renew: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its connection info may hold the password.
        f.debug_struct("RedisStore").field("prefix", &self.prefix).field("replica", &self.replica).finish()
    }
}

/// A granted admission's lease, to settle with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease(pub String);

impl RedisStore {
    /// `password`: the value of `redis_password_env`, already read.
    pub fn new(config: &StateConfig, password: Option<String>) -> Result<Self, StoreError> {
        let redis_error = |e: redis::RedisError| StoreError::Redis(e.to_string());
        let mut info = config.redis_url.as_str().into_connection_info().map_err(redis_error)?;
        if let Some(p) = password {
            let settings = info.redis_settings().clone().set_password(p);
            info = info.set_redis_settings(settings);
        }
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| StoreError::Redis(format!("no random replica id: {e}")))?;
        Ok(Self {
            client: redis::Client::open(info).map_err(redis_error)?,
            conn: OnceCell::new(),
            prefix: config.key_prefix.clone(),
            timeout: config.timeout(),
            lease_ms: u64::try_from(config.lease().as_millis()).unwrap_or(u64::MAX),
            replica: id.iter().map(|b| format!("{b:02x}")).collect(),
            next: AtomicU64::new(0),
            leases: Mutex::default(),
            admit: Script::new(include_str!("lua/admit.lua")),
            settle: Script::new(include_str!("lua/settle.lua")),
            renew: Script::new(include_str!("lua/renew.lua")),
        })
    }

    pub fn lease_period(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let made = self.conn.get_or_try_init(|| async {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                .set_response_timeout(Some(self.timeout))
                // A request never waits for reconnection: it fails now, the next one retries.
                .set_number_of_retries(0);
            ConnectionManager::new_lazy_with_config(self.client.clone(), config)
                .map_err(|e| StoreError::Redis(e.to_string()))
        });
        Ok(made.await?.clone())
    }

    /// One script call, bounded by the timeout whatever the connection does.
    async fn call<T: redis::FromRedisValue>(&self, invocation: redis::ScriptInvocation<'_>) -> Result<T, StoreError> {
        let mut conn = self.connection().await?;
        let ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if e.is_timeout() => Err(StoreError::Timeout(ms)),
            Ok(Err(e)) => Err(StoreError::Redis(e.to_string())),
            Err(_) => Err(StoreError::Timeout(ms)),
        }
    }

    fn keys(&self, scope: &Scope) -> [String; 2] {
        // `{…}`: a scope's two keys hash to one Redis Cluster slot.
        let base = format!("{}{{{}}}", self.prefix, scope.key);
        [format!("{base}:buckets"), format!("{base}:running")]
    }

    pub async fn admit(&self, scopes: &[Scope], tokens: u64) -> Result<(Verdict, Lease), StoreError> {
        let lease = Lease(format!("{}-{}", self.replica, self.next.fetch_add(1, Ordering::Relaxed)));
        let mut invocation = self.admit.prepare_invoke();
        for scope in scopes {
            for key in self.keys(scope) {
                invocation.key(key);
            }
        }
        invocation.arg(tokens).arg(&lease.0).arg(self.lease_ms);
        for scope in scopes {
            let l = scope.limits;
            invocation.arg(l.requests_per_minute.unwrap_or(0)).arg(l.tokens_per_minute.unwrap_or(0));
            invocation.arg(l.max_concurrent_streams.unwrap_or(0));
        }
        let reply: Vec<i64> = self.call(invocation).await?;
        let verdict = parse_admit(&reply, scopes)?;
        if matches!(verdict, Verdict::Admitted(_)) {
            let running: Vec<String> = scopes
                .iter()
                .filter(|s| s.limits.max_concurrent_streams.is_some())
                .map(|s| self.keys(s)[1].clone())
                .collect();
            if !running.is_empty() {
                lock(&self.leases).insert(lease.0.clone(), running);
            }
        }
        Ok((verdict, lease))
    }

    /// See `MemoryStore::settle`. The lease stops being renewed even when Redis cannot
    /// be reached: it then expires by itself.
    pub async fn settle(&self, scopes: &[Scope], lease: &Lease, refund: i64, request: bool) -> Result<(), StoreError> {
        lock(&self.leases).remove(&lease.0);
        let mut invocation = self.settle.prepare_invoke();
        for scope in scopes {
            for key in self.keys(scope) {
                invocation.key(key);
            }
        }
        invocation.arg(refund).arg(u8::from(request)).arg(&lease.0);
        for scope in scopes {
            invocation.arg(scope.limits.requests_per_minute.unwrap_or(0));
            invocation.arg(scope.limits.tokens_per_minute.unwrap_or(0));
        }
        self.call::<i64>(invocation).await.map(|_| ())
    }

    /// Extend every lease this replica holds by another period.
    pub async fn renew(&self) -> Result<usize, StoreError> {
        let held: Vec<(String, String)> = lock(&self.leases)
            .iter()
            .flat_map(|(lease, keys)| keys.iter().map(move |k| (k.clone(), lease.clone())))
            .collect();
        if held.is_empty() {
            return Ok(0);
        }
        let mut invocation = self.renew.prepare_invoke();
        invocation.arg(self.lease_ms);
        for (key, lease) in &held {
            invocation.key(key).arg(lease);
        }
        self.call::<i64>(invocation).await.map(|n| usize::try_from(n).unwrap_or(0))
    }

    /// One command, bounded by the timeout.
    async fn command<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.connection().await?;
        let ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Redis(e.to_string())),
            Err(_) => Err(StoreError::Timeout(ms)),
        }
    }

    fn shared_key(&self, list: &str) -> String {
        format!("{}shared:{list}", self.prefix)
    }

    /// Put one entry of a shared list (the dashboard's controls) for every replica.
    pub async fn put_shared(&self, list: &str, field: &str, entry: &str) -> Result<(), StoreError> {
        let mut c = redis::cmd("HSET");
        c.arg(self.shared_key(list)).arg(field).arg(entry);
        self.command::<i64>(c).await.map(|_| ())
    }

    /// Remove one; whether it was there.
    pub async fn remove_shared(&self, list: &str, field: &str) -> Result<bool, StoreError> {
        let mut c = redis::cmd("HDEL");
        c.arg(self.shared_key(list)).arg(field);
        self.command::<i64>(c).await.map(|n| n > 0)
    }

    /// Every entry of a shared list: field and what `put_shared` stored.
    pub async fn shared(&self, list: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut c = redis::cmd("HGETALL");
        c.arg(self.shared_key(list));
        self.command::<Vec<(String, String)>>(c).await
    }

    /// One round trip (readiness and the metric of whether Redis is up).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.command::<String>(redis::cmd("PING")).await.map(|_| ())
    }
}

/// `admit.lua`'s reply as a verdict.
fn parse_admit(reply: &[i64], scopes: &[Scope]) -> Result<Verdict, StoreError> {
    let bad = || StoreError::Redis(format!("unexpected reply from the admission script: {reply:?}"));
    match reply.first() {
        Some(0) => {
            let [_, scope, kind, wait] = reply else { return Err(bad()) };
            let scope = usize::try_from(*scope).ok().filter(|s| *s < scopes.len()).ok_or_else(bad)?;
            let kind = LimitKind::from_code(*kind).ok_or_else(bad)?;
            Ok(Verdict::Limited(Limited { scope, kind, retry_after_ms: u64::try_from(*wait).ok() }))
        }
        Some(1) if reply.len() == 1 + 4 * scopes.len() => {
            let level = |limit: Option<u32>, left: i64, full: i64| {
                Some(Level { limit: limit?, remaining: u64::try_from(left).ok()?, reset_ms: u64::try_from(full).ok()? })
            };
            let out = reply[1..]
                .chunks(4)
                .zip(scopes)
                .map(|(c, s)| Remaining {
                    requests: level(s.limits.requests_per_minute, c[0], c[1]),
                    tokens: level(s.limits.tokens_per_minute, c[2], c[3]),
                })
                .collect();
            Ok(Verdict::Admitted(out))
        }
        _ => Err(bad()),
    }
}
