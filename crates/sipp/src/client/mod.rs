//! The client API: endpoint registration and the query/chat/embed operations.

mod descriptor;
mod options;
mod run;
mod sipp_client;

pub use descriptor::{EndpointDescriptor, EndpointKind, EndpointRef, LocalModelDescriptor};
pub use options::{
    LocalEmbedOptions, LocalTextOptions, SippChatRequest, SippEmbedRequest, SippQueryRequest, SippTextOptions,
};
pub use run::{SippEmbeddingRun, SippTextRun};
pub use sipp_client::SippClient;
