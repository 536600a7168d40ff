//! The first-party Sipp gateway server as a library, so tests and the binary share it:
//! `config` (the TOML schema and its checks), `secrets`, `targets` (config to endpoint
//! descriptors), `state`, the `public` request flow with its `sipp_routes` and `openai_routes`, the
//! `management` handlers, `app` (the routers),
//! `metrics`, `limits` (what a connection or request may hold), `listener` (accepting
//! and timing out connections), `log_writer` (batched JSON log lines), `serve`
//! (listeners, loading, shutdown), and the dashboard's `admin`, `controls`, `admission`
//! and `activity`; `sync` has the lock helpers.

pub mod activity;
pub mod admin;
pub mod admission;
pub mod app;
pub mod client_ip;
pub mod config;
pub mod controls;
pub mod edges;
pub mod limited;
pub mod limits;
pub mod listener;
pub mod log_format;
pub mod log_writer;
pub mod management;
pub mod metrics;
pub mod openai_routes;
pub mod pool;
pub mod public;
pub mod rate_limit;
pub mod routing;
pub mod secrets;
pub mod serve;
pub mod shared_controls;
pub mod sipp_routes;
pub mod state;
pub mod sync;
pub mod targets;
pub mod traffic;
