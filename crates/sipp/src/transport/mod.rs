//! HTTP for the remote endpoint kinds: one reqwest client per endpoint with its
//! deadlines, authentication and retry budget; SSE decoding; the task that turns one
//! remote call into the same event stream a local engine produces.

pub(crate) mod body;
mod failure;
mod http;
mod remote_endpoint;
mod stream;
mod wire;

pub(crate) use failure::{quote, Fault};
pub(crate) use http::{header_name, Auth, HttpTransport};
pub(crate) use remote_endpoint::RemoteEndpoint;
pub(crate) use wire::{merge_options, parse_data, text_at, Call, StreamDecoder, StreamItem, Wire};
