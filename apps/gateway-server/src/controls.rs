//! Runtime controls an operator changes from the admin dashboard: the blocklist (client
//! IPs or CIDRs, caller labels), disabled targets, and fallback targets. They take effect
//! on the next request, live only in this process (reset on restart, as the spec says)
//! — except under `[state]`, where every replica shares them through Redis
//! (`shared_controls`) — and are never written to the TOML.

use crate::sync::{read, write};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// At most this many blocklist entries of each kind (the checks are linear scans).
pub const MAX_BLOCKS: usize = 1024;

/// Why an entry exists and how often it refused someone.
#[derive(Debug, Serialize)]
pub struct BlockEntry {
    pub value: String,
    pub reason: String,
    /// Unix milliseconds.
    pub added_at: u64,
    /// The admin session that added it.
    pub added_by: String,
    pub hits: AtomicU64,
}

/// A blocklist entry as `[state]`'s store keeps it (JSON, one hash field per value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SharedBlock {
    pub value: String,
    pub reason: String,
    pub added_at: u64,
    pub added_by: String,
}

/// Which shared list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedKind {
    Clients,
    Callers,
}

impl SharedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clients => "clients",
            Self::Callers => "callers",
        }
    }
}

/// What blocked a request, for its 403 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    Client(String),
    Caller(String),
}

/// A target an operator turned off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Disabled {
    pub reason: String,
    /// Unix milliseconds.
    pub since: u64,
}

#[derive(Debug, Default)]
pub struct Controls {
    clients: RwLock<Vec<(IpNet, Arc<BlockEntry>)>>,
    callers: RwLock<BTreeMap<String, Arc<BlockEntry>>>,
    disabled: RwLock<BTreeMap<String, Disabled>>,
    fallbacks: RwLock<BTreeMap<String, String>>,
}

/// Why a control could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("`{0}` is neither an IP address nor a CIDR (e.g. 203.0.113.9 or 198.51.100.0/24)")]
    NotAnAddress(String),
    #[error("the blocklist holds at most {MAX_BLOCKS} entries of each kind")]
    Full,
    #[error("`{0}` is not on the blocklist")]
    NotBlocked(String),
}

impl Controls {
    /// The client's entry, if it is blocked (counting the hit).
    pub fn client_blocked(&self, ip: IpAddr) -> Option<Blocked> {
        let list = read(&self.clients);
        let (_, entry) = list.iter().find(|(net, _)| net.contains(&ip))?;
        entry.hits.fetch_add(1, Ordering::Relaxed);
        Some(Blocked::Client(entry.value.clone()))
    }

    pub fn caller_blocked(&self, caller: &str) -> Option<Blocked> {
        let list = read(&self.callers);
        let entry = list.get(caller)?;
        entry.hits.fetch_add(1, Ordering::Relaxed);
        Some(Blocked::Caller(caller.to_string()))
    }

    /// Block an IP (as a /32 or /128) or a CIDR; its canonical form is returned.
    pub fn block_client(&self, value: &str, reason: &str, by: &str) -> Result<String, ControlError> {
        let net = parse_net(value)?;
        let mut list = write(&self.clients);
        if let Some((_, e)) = list.iter().find(|(n, _)| *n == net) {
            return Ok(e.value.clone());
        }
        if list.len() >= MAX_BLOCKS {
            return Err(ControlError::Full);
        }
        let shown = net.to_string();
        list.push((net, Arc::new(entry(&shown, reason, by))));
        Ok(shown)
    }

    /// `value` as the blocklist writes it (`198.51.100.0/24`), if it is an address.
    pub fn canonical_client(&self, value: &str) -> Option<String> {
        parse_net(value).ok().map(|n| n.to_string())
    }

    pub fn unblock_client(&self, value: &str) -> Result<String, ControlError> {
        let net = parse_net(value)?;
        let mut list = write(&self.clients);
        let before = list.len();
        list.retain(|(n, _)| *n != net);
        if list.len() == before {
            return Err(ControlError::NotBlocked(net.to_string()));
        }
        Ok(net.to_string())
    }

    pub fn block_caller(&self, caller: &str, reason: &str, by: &str) -> Result<(), ControlError> {
        let mut list = write(&self.callers);
        if list.len() >= MAX_BLOCKS && !list.contains_key(caller) {
            return Err(ControlError::Full);
        }
        list.entry(caller.to_string()).or_insert_with(|| Arc::new(entry(caller, reason, by)));
        Ok(())
    }

    pub fn unblock_caller(&self, caller: &str) -> Result<(), ControlError> {
        write(&self.callers).remove(caller).map(|_| ()).ok_or_else(|| ControlError::NotBlocked(caller.to_string()))
    }

    /// Both lists as every replica shares them (`[state]`): entries not in them go,
    /// entries new to this replica come; an entry it already had keeps its hit count.
    pub fn replace_blocklist(&self, clients: Vec<SharedBlock>, callers: Vec<SharedBlock>) {
        let keep = |old: Option<&Arc<BlockEntry>>, b: SharedBlock| match old {
            Some(e) if e.reason == b.reason && e.added_at == b.added_at => Arc::clone(e),
            _ => Arc::new(BlockEntry {
                value: b.value,
                reason: b.reason,
                added_at: b.added_at,
                added_by: b.added_by,
                hits: AtomicU64::new(0),
            }),
        };
        {
            let mut list = write(&self.clients);
            let next: Vec<(IpNet, Arc<BlockEntry>)> = clients
                .into_iter()
                .take(MAX_BLOCKS)
                .filter_map(|b| {
                    let net = parse_net(&b.value).ok()?;
                    let old = list.iter().find(|(n, _)| *n == net).map(|(_, e)| e);
                    Some((net, keep(old, b)))
                })
                .collect();
            *list = next;
        }
        let mut list = write(&self.callers);
        let next: BTreeMap<String, Arc<BlockEntry>> =
            callers.into_iter().take(MAX_BLOCKS).map(|b| (b.value.clone(), keep(list.get(&b.value), b))).collect();
        *list = next;
    }

    /// Disabled targets and fallback overrides as every replica shares them.
    pub fn replace_overrides(&self, disabled: BTreeMap<String, Disabled>, fallbacks: BTreeMap<String, String>) {
        *write(&self.disabled) = disabled;
        *write(&self.fallbacks) = fallbacks;
    }

    /// One entry as the shared store keeps it.
    pub fn shared_entry(&self, kind: SharedKind, value: &str) -> Option<SharedBlock> {
        let e = match kind {
            SharedKind::Clients => {
                read(&self.clients).iter().find(|(_, e)| e.value == value).map(|(_, e)| Arc::clone(e))
            }
            SharedKind::Callers => read(&self.callers).get(value).cloned(),
        }?;
        Some(SharedBlock {
            value: e.value.clone(),
            reason: e.reason.clone(),
            added_at: e.added_at,
            added_by: e.added_by.clone(),
        })
    }

    /// Both lists, for the dashboard.
    pub fn blocklist(&self) -> (Vec<Arc<BlockEntry>>, Vec<Arc<BlockEntry>>) {
        let clients = read(&self.clients).iter().map(|(_, e)| Arc::clone(e)).collect();
        let callers = read(&self.callers).values().cloned().collect();
        (clients, callers)
    }

    /// Hits of every entry together (the dashboard's "blocked" series).
    pub fn block_hits(&self) -> u64 {
        let (clients, callers) = self.blocklist();
        clients.iter().chain(&callers).map(|e| e.hits.load(Ordering::Relaxed)).sum()
    }

    pub fn disable(&self, target: &str, reason: &str) {
        write(&self.disabled).insert(target.to_string(), Disabled { reason: reason.to_string(), since: unix_ms() });
    }

    /// Put back an earlier disabled state (a change the shared store refused).
    pub fn replace_disabled(&self, target: &str, d: Disabled) {
        write(&self.disabled).insert(target.to_string(), d);
    }

    /// Whether the target was disabled.
    pub fn enable(&self, target: &str) -> bool {
        write(&self.disabled).remove(target).is_some()
    }

    pub fn disabled(&self, target: &str) -> Option<Disabled> {
        read(&self.disabled).get(target).cloned()
    }

    pub fn set_fallback(&self, target: &str, fallback: &str) {
        write(&self.fallbacks).insert(target.to_string(), fallback.to_string());
    }

    pub fn clear_fallback(&self, target: &str) -> bool {
        write(&self.fallbacks).remove(target).is_some()
    }

    pub fn fallback(&self, target: &str) -> Option<String> {
        read(&self.fallbacks).get(target).cloned()
    }

    pub fn fallbacks(&self) -> BTreeMap<String, String> {
        read(&self.fallbacks).clone()
    }
}

fn entry(value: &str, reason: &str, by: &str) -> BlockEntry {
    BlockEntry {
        value: value.to_string(),
        reason: reason.to_string(),
        added_at: unix_ms(),
        added_by: by.to_string(),
        hits: AtomicU64::new(0),
    }
}

fn parse_net(value: &str) -> Result<IpNet, ControlError> {
    let v = value.trim();
    v.parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| ControlError::NotAnAddress(crate::public::shown(value)))
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_addresses_block_and_unblock() {
        let c = Controls::default();
        assert_eq!(c.block_client("198.51.100.77/24", "abuse", "s1").unwrap(), "198.51.100.0/24");
        assert_eq!(c.block_client(" 2001:db8::1 ", "", "s1").unwrap(), "2001:db8::1/128");
        assert!(matches!(c.block_client("nope", "", "s1"), Err(ControlError::NotAnAddress(_))));
        assert_eq!(c.client_blocked("198.51.100.9".parse().unwrap()), Some(Blocked::Client("198.51.100.0/24".into())));
        assert_eq!(c.client_blocked("198.51.101.9".parse().unwrap()), None);
        assert!(c.client_blocked("2001:db8::1".parse().unwrap()).is_some());
        assert_eq!(c.block_hits(), 2);
        assert_eq!(c.unblock_client("198.51.100.0/24").unwrap(), "198.51.100.0/24");
        assert!(matches!(c.unblock_client("198.51.100.0/24"), Err(ControlError::NotBlocked(_))));
        assert_eq!(c.client_blocked("198.51.100.9".parse().unwrap()), None);
        c.block_caller("app-a", "", "s1").unwrap();
        assert!(c.caller_blocked("app-a").is_some() && c.caller_blocked("app-b").is_none());
        c.unblock_caller("app-a").unwrap();
        assert!(c.caller_blocked("app-a").is_none());
    }
}
