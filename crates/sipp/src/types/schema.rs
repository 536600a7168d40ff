//! The one schema of everything that crosses a language boundary, derived from the serde
//! types themselves: requests and options, descriptors and runtime config, responses and
//! stream batches. `schema/sipp.schema.json` is this document, checked in; the Python
//! facade's dataclasses (and the Node package's types) are tested against it, so a field
//! on one side only fails a test instead of being silently unreachable.

use super::{
    EndpointRef, GatewayDescriptor, LocalModelDescriptor, NativeRuntimeConfig, ProviderDescriptor, SippEmbedRequest,
    SippEmbeddingResponse, SippTextRequest, SippTextResponse, TokenBatch,
};
use crate::error::ErrorCode;
use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

/// The JSON Schema document (draft 2020-12): every boundary type under `$defs`.
#[must_use]
pub fn boundary_schema() -> Value {
    let mut g = SchemaSettings::draft2020_12().into_generator();
    g.subschema_for::<SippTextRequest>();
    g.subschema_for::<SippEmbedRequest>();
    g.subschema_for::<SippTextResponse>();
    g.subschema_for::<SippEmbeddingResponse>();
    g.subschema_for::<TokenBatch>();
    g.subschema_for::<EndpointRef>();
    g.subschema_for::<LocalModelDescriptor>();
    g.subschema_for::<GatewayDescriptor>();
    g.subschema_for::<ProviderDescriptor>();
    g.subschema_for::<NativeRuntimeConfig>();
    g.subschema_for::<ErrorCode>();
    let defs = g.take_definitions(true);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sipp.dev/schema/sipp.schema.json",
        "title": "Sipp boundary types",
        "description": "Generated from the Rust serde types by `cargo xtask schema`; do not edit.",
        "$defs": defs,
    })
}
