//! Traffic control: token-aware limits per caller and per target (`config`), counted by
//! token buckets (`bucket`) in memory (`memory`) or in Redis shared by every replica
//! (`redis_store`, `lua/`), decided and settled by `control`, reported in `/metrics`
//! (`stats`) and in the OpenAI-style headers (`headers`).

pub mod bucket;
pub mod config;
pub mod control;
pub mod headers;
pub mod memory;
pub mod redis_store;
pub mod stats;
pub mod verdict;

pub use config::{StateConfig, TrafficLimits, Unreachable};
pub use control::{Refused, Reservation, TrafficControl};
