//! `sipp-gateway`: route-free helpers for applications that expose Sipp inference over
//! HTTP. Decode request bodies into typed Sipp requests, encode finite and streamed
//! answers in the first-party profile, translate errors into HTTP answers, and
//! authenticate callers. It registers no routes and binds nothing: the application owns
//! sockets, routes, configuration and policy.
//!
//! ```no_run
//! # async fn handler(client: &sipp::SippClient, body: &[u8]) -> Result<Vec<u8>, sipp_gateway::GatewayHttpError> {
//! use sipp_gateway::{ErrorTranslator, GatewayCodec, ProtocolCodec, SippErrorTranslator};
//! let codec = GatewayCodec;
//! let mut decoded = codec.decode_query(body)?;
//! decoded.request.endpoint = Some(sipp::EndpointRef { kind: sipp::EndpointKind::Local, id: decoded.target.clone() });
//! let response = client.text(&decoded.request).await.map_err(|e| SippErrorTranslator.translate(&e))?;
//! codec.encode_text(&decoded.target, &response)
//! # }
//! ```

mod auth;
mod codec;
mod error;
mod openai;
mod sse;
mod stream;

pub use auth::{Authenticator, BearerTokens, Caller};
pub use codec::{Decoded, GatewayCodec, ProtocolCodec};
pub use error::{ErrorTranslator, GatewayHttpError, SippErrorTranslator};
/// Re-exported so applications name statuses without a direct `http` dependency.
pub use http::StatusCode;
pub use openai::{OpenAiAnswer, OpenAiCodec, OpenAiEmbeddings, OpenAiRoute, OpenAiStream, OpenAiText};
pub use sse::{SseEncoder, SSE_CONTENT_TYPE};
pub use stream::StreamEncoder;
