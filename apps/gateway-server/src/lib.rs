//! The first-party Sipp gateway server as a library, so tests and the binary share it:
//! `config` (the TOML schema and its checks), `secrets`, `targets` (config to endpoint
//! descriptors), `state`, the `public` and `management` handlers, `app` (the routers),
//! `metrics`, and `serve` (listeners, loading, shutdown).

pub mod app;
pub mod client_ip;
pub mod config;
pub mod management;
pub mod metrics;
pub mod public;
pub mod rate_limit;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod targets;
