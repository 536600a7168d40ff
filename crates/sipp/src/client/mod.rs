//! The client API: endpoint registration and the query/chat/embed operations.

mod run;
mod sipp_client;

pub use crate::types::{
    EndpointDescriptor, EndpointKind, EndpointRef, LocalEmbedOptions, LocalModelDescriptor, LocalTextOptions,
    SippChatRequest, SippEmbedRequest, SippQueryRequest, SippTextOptions,
};
pub use run::{SippEmbeddingRun, SippTextRun};
pub use sipp_client::SippClient;
