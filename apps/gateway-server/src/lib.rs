//! The first-party Sipp gateway server as a library, so tests and the binary share it:
//! `config` (the TOML schema and its checks).

pub mod config;
