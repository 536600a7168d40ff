//! The client API: endpoint registration and the query/chat/embed operations.

mod run;
mod sipp_client;

pub use run::{SippEmbeddingRun, SippTextRun};
pub use sipp_client::SippClient;
