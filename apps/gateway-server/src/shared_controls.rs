//! The dashboard's controls shared by every replica under `[state]`: the blocklist,
//! disabled targets and fallback overrides. A change is written to Redis before it
//! counts (if Redis cannot take it, the operator is told and no replica changes), and
//! every replica pulls the lists every second, so what an operator does on one replica
//! holds on all within about a second. Hit counts, the admission limit and the per-IP
//! rate limit stay per replica (they describe this process).

use crate::controls::{Disabled, SharedBlock, SharedKind};
use crate::state::AppState;
use crate::traffic::redis_store::StoreError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often a replica pulls the shared lists.
pub const PULL_EVERY: Duration = Duration::from_secs(1);

const DISABLED: &str = "disabled_targets";
const FALLBACKS: &str = "fallbacks";

fn list(kind: SharedKind) -> &'static str {
    match kind {
        SharedKind::Clients => "blocked_clients",
        SharedKind::Callers => "blocked_callers",
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Redis(e.to_string()))
}

/// Write this replica's blocklist entry for `value` for all (no-op without `[state]`).
pub async fn publish_block(s: &AppState, kind: SharedKind, value: &str) -> Result<(), StoreError> {
    let (Some(store), Some(entry)) = (s.traffic.store(), s.controls.shared_entry(kind, value)) else { return Ok(()) };
    store.put_shared(list(kind), value, &json(&entry)?).await
}

/// Remove `value` from the shared blocklist; whether it was there (`None` without
/// `[state]`).
pub async fn withdraw_block(s: &AppState, kind: SharedKind, value: &str) -> Result<Option<bool>, StoreError> {
    withdraw(s, list(kind), value).await
}

/// Write `target`'s disabled state (as this replica has it) for all.
pub async fn publish_disabled(s: &AppState, target: &str) -> Result<(), StoreError> {
    let (Some(store), Some(d)) = (s.traffic.store(), s.controls.disabled(target)) else { return Ok(()) };
    store.put_shared(DISABLED, target, &json(&d)?).await
}

pub async fn withdraw_disabled(s: &AppState, target: &str) -> Result<Option<bool>, StoreError> {
    withdraw(s, DISABLED, target).await
}

/// Write `target`'s fallback override (as this replica has it) for all.
pub async fn publish_fallback(s: &AppState, target: &str) -> Result<(), StoreError> {
    let (Some(store), Some(f)) = (s.traffic.store(), s.controls.fallback(target)) else { return Ok(()) };
    store.put_shared(FALLBACKS, target, &json(&f)?).await
}

pub async fn withdraw_fallback(s: &AppState, target: &str) -> Result<Option<bool>, StoreError> {
    withdraw(s, FALLBACKS, target).await
}

async fn withdraw(s: &AppState, list: &str, field: &str) -> Result<Option<bool>, StoreError> {
    match s.traffic.store() {
        Some(store) => store.remove_shared(list, field).await.map(Some),
        None => Ok(None),
    }
}

/// Replace this replica's shared controls with the fleet's.
pub async fn pull(s: &AppState) -> Result<(), StoreError> {
    let Some(store) = s.traffic.store() else { return Ok(()) };
    let parse = |rows: Vec<(String, String)>| -> Vec<SharedBlock> {
        rows.into_iter().filter_map(|(_, json)| serde_json::from_str(&json).ok()).collect()
    };
    let clients = parse(store.shared(list(SharedKind::Clients)).await?);
    let callers = parse(store.shared(list(SharedKind::Callers)).await?);
    let disabled: BTreeMap<String, Disabled> = store
        .shared(DISABLED)
        .await?
        .into_iter()
        .filter_map(|(target, json)| Some((target, serde_json::from_str(&json).ok()?)))
        .collect();
    let fallbacks: BTreeMap<String, String> = store
        .shared(FALLBACKS)
        .await?
        .into_iter()
        .filter_map(|(target, json)| Some((target, serde_json::from_str(&json).ok()?)))
        .collect();
    s.controls.replace_blocklist(clients, callers);
    s.controls.replace_overrides(disabled, fallbacks);
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
                tracing::warn!(error = %e, "cannot pull the shared dashboard controls; keeping the last ones");
            }
            Err(_) => {}
        }
    }
}
