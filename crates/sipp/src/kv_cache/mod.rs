//! KV cache bookkeeping: which sequence slots are free and what each idle slot still
//! holds, so a new request can take the slot that shares its longest prompt prefix.
//!
//! Pure logic: the engine applies the decisions to llama.cpp (`seq_rm`).

mod slots;

pub(crate) use slots::KvCache;
