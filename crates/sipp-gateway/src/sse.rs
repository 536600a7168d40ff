//! Server-sent events of the first-party profile: `token` per batch, then `usage` (when
//! counted) and `done`, or one `error` once streaming has started.

use crate::error::GatewayHttpError;
use crate::stream::StreamEncoder;
use bytes::Bytes;
use serde::Serialize;
use sipp::gateway_profile::{event, DoneEvent, TokenEvent};
use sipp::{SippTextResponse, TokenBatch, Usage};

/// `Content-Type` of a profile stream.
pub const SSE_CONTENT_TYPE: &str = "text/event-stream";

/// Encodes profile events as SSE frames (`event: <name>\ndata: <json>\n\n`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SseEncoder;

impl SseEncoder {
    #[must_use]
    pub fn token(&self, batch: &TokenBatch) -> Bytes {
        frame(event::TOKEN, &TokenEvent { text: batch.text.clone(), sequence: batch.sequence })
    }

    #[must_use]
    pub fn usage(&self, usage: &Usage) -> Bytes {
        frame(event::USAGE, usage)
    }

    /// The closing frames of a finished run: `usage` (if counted), then `done`.
    #[must_use]
    pub fn finish(&self, response: &SippTextResponse) -> Bytes {
        let mut out = Vec::new();
        if let Some(u) = &response.usage {
            out.extend_from_slice(&self.usage(u));
        }
        out.extend_from_slice(&frame(event::DONE, &DoneEvent { finish_reason: response.finish_reason }));
        Bytes::from(out)
    }

    /// A failure after streaming started (the status line is already sent).
    #[must_use]
    pub fn error(&self, error: &GatewayHttpError) -> Bytes {
        raw_frame(event::ERROR, &error.body())
    }
}

impl StreamEncoder for SseEncoder {
    fn token(&mut self, batch: &TokenBatch) -> Bytes {
        SseEncoder::token(self, batch)
    }

    fn finish(&mut self, response: &SippTextResponse) -> Bytes {
        SseEncoder::finish(self, response)
    }

    fn error(&mut self, error: &GatewayHttpError) -> Bytes {
        SseEncoder::error(self, error)
    }
}

fn frame<T: Serialize>(name: &str, data: &T) -> Bytes {
    // Compact JSON has no newline, so one `data:` line carries it.
    raw_frame(name, &serde_json::to_vec(data).unwrap_or_default())
}

fn raw_frame(name: &str, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + name.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipp::FinishReason;

    #[test]
    fn frames_match_the_testing_page() {
        let e = SseEncoder;
        let batch = TokenBatch { text: "Gateways".into(), token_ids: vec![1, 2], sequence: 0 };
        assert_eq!(&e.token(&batch)[..], b"event: token\ndata: {\"text\":\"Gateways\",\"sequence\":0}\n\n");
        let done = SippTextResponse {
            text: "Gateways".into(),
            finish_reason: FinishReason::Stop,
            usage: Some(Usage { input_tokens: 8, output_tokens: 9, total_tokens: 17 }),
            local_stats: None,
        };
        assert_eq!(
            &e.finish(&done)[..],
            &b"event: usage\ndata: {\"input_tokens\":8,\"output_tokens\":9,\"total_tokens\":17}\n\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n"[..]
        );
        let err = GatewayHttpError::new(http::StatusCode::INTERNAL_SERVER_ERROR, "execution", "decode failed");
        assert_eq!(
            &e.error(&err)[..],
            &b"event: error\ndata: {\"error\":{\"code\":\"execution\",\"message\":\"decode failed\"}}\n\n"[..]
        );
    }

    #[test]
    fn text_with_newlines_stays_one_data_line() {
        let batch = TokenBatch { text: "a\nb\r\n".into(), token_ids: vec![], sequence: 3 };
        let f = SseEncoder.token(&batch);
        assert_eq!(f.iter().filter(|b| **b == b'\n').count(), 3, "{f:?}");
    }
}
