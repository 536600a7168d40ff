//! KV cache bookkeeping: which sequence slots are free and what each idle slot still
//! holds, so a new request can take the slot that shares its longest prompt prefix; and
//! host-RAM snapshots of slot states that other traffic displaced.
//!
//! Pure logic: the engine applies the decisions to llama.cpp (`seq_rm`, state get/set).

mod fingerprint;
mod persist;
mod slots;
mod snapshots;

pub(crate) use fingerprint::{model_fingerprint, user_cache_dir};
pub(crate) use persist::{Identity, SnapshotDir};
pub(crate) use slots::{Acquired, KvCache};
pub(crate) use snapshots::{SnapshotCounters, SnapshotStore, MIN_SNAPSHOT_TOKENS};
