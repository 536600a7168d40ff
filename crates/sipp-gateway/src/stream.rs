//! The frames of one streamed answer, whatever the profile: the server's streaming loop
//! asks an encoder for each token batch, the closing frames, or an error frame, so the
//! same loop serves the first-party SSE events and OpenAI's `data:` chunks.

use crate::error::GatewayHttpError;
use bytes::Bytes;
use sipp::{SippTextResponse, TokenBatch};

/// Encodes one stream; it may keep state between frames (ids, "first chunk" flags).
pub trait StreamEncoder: Send {
    fn token(&mut self, batch: &TokenBatch) -> Bytes;
    /// Everything after the last token: usage, the finish reason, an end marker.
    fn finish(&mut self, response: &SippTextResponse) -> Bytes;
    /// A failure after the status line was sent.
    fn error(&mut self, error: &GatewayHttpError) -> Bytes;
}
