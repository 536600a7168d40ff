//! The dashboard's blocklist shared by every replica under `[state]`: a change is
//! written to Redis before it counts (if Redis cannot take it, the operator is told and
//! nothing changes), and every replica pulls both lists every second, so an address or
//! caller blocked on one replica is refused by all within about a second. Hit counts
//! stay per replica.

use crate::controls::{SharedBlock, SharedKind};
use crate::state::AppState;
use crate::traffic::redis_store::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// How often a replica pulls the shared lists.
pub const PULL_EVERY: Duration = Duration::from_secs(1);

/// Write this replica's entry for `value` to the shared list (no-op without `[state]`).
pub async fn publish(s: &AppState, kind: SharedKind, value: &str) -> Result<(), StoreError> {
    let (Some(store), Some(entry)) = (s.traffic.store(), s.controls.shared_entry(kind, value)) else { return Ok(()) };
    let json = serde_json::to_string(&entry).map_err(|e| StoreError::Redis(e.to_string()))?;
    store.put_block(kind.as_str(), value, &json).await
}

/// Remove `value` from the shared list; whether it was there (`None` without `[state]`).
pub async fn withdraw(s: &AppState, kind: SharedKind, value: &str) -> Result<Option<bool>, StoreError> {
    match s.traffic.store() {
        Some(store) => store.remove_block(kind.as_str(), value).await.map(Some),
        None => Ok(None),
    }
}

/// Replace this replica's lists with the shared ones.
pub async fn pull(s: &AppState) -> Result<(), StoreError> {
    let Some(store) = s.traffic.store() else { return Ok(()) };
    let parse = |rows: Vec<(String, String)>| -> Vec<SharedBlock> {
        rows.into_iter().filter_map(|(_, json)| serde_json::from_str(&json).ok()).collect()
    };
    let clients = parse(store.blocks(SharedKind::Clients.as_str()).await?);
    let callers = parse(store.blocks(SharedKind::Callers.as_str()).await?);
    s.controls.replace_blocklist(clients, callers);
    Ok(())
}

/// Pull every [`PULL_EVERY`] for as long as the task lives (only with `[state]`).
pub async fn run(state: Arc<AppState>) {
    if state.traffic.store().is_none() {
        return;
    }
    let mut ticks = tokio::time::interval(PULL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        match pull(&state).await {
            Ok(()) => failing = false,
            // Said once per outage; the lists stay as last pulled meanwhile.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot pull the shared blocklist; keeping the last one");
            }
            Err(_) => {}
        }
    }
}
