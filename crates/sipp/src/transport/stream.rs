//! Reading a remote text answer: a JSON body, or server-sent events decoded by the
//! adapter, with the idle deadline on the bytes between them. Progress lives outside the
//! future so a cancelled run still returns the text it had.

use super::failure::Fault;
use super::http::HttpTransport;
use super::wire::{Call, StreamItem, Wire};
use crate::error::{Result, SippError};
use crate::types::{FinishReason, SippTextResponse, TextEvent, TokenBatch, Usage};
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What a text run has produced so far.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub text: String,
    pub batches: u64,
    pub usage: Option<Usage>,
    pub finish: Option<FinishReason>,
}

impl Progress {
    /// The response of a run stopped by `cancel`: the text so far, and usage only if the
    /// server had already sent it (it counts at the end).
    pub(crate) fn cancelled(self) -> SippTextResponse {
        SippTextResponse {
            text: self.text,
            finish_reason: FinishReason::Cancelled,
            usage: self.usage,
            local_stats: None,
        }
    }
}

/// Make `call` and read its answer into `progress`, streaming batches to `events`.
pub(crate) async fn run_text<W: Wire>(
    wire: &W,
    http: &HttpTransport,
    call: &Call,
    correlation: Option<&HeaderValue>,
    events: &mpsc::UnboundedSender<TextEvent>,
    progress: &mut Progress,
    deadline: Instant,
) -> Result<SippTextResponse> {
    let response = http.post(call, correlation, deadline).await?;
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        // Also the answer of a server that ignores `stream`: one batch with everything.
        let value = http.json(response, deadline).await?;
        let done = wire.text_response(&value).map_err(|f| http.fault(f, None))?;
        if call.stream && !done.text.is_empty() {
            let _ = events.send(TextEvent::Tokens(TokenBatch {
                text: done.text.clone(),
                token_ids: Vec::new(),
                sequence: 0,
            }));
        }
        return Ok(done);
    }
    let mut decoder = wire.decoder();
    let mut stream = std::pin::pin!(idle_guarded(response, http.timeouts.idle()).eventsource());
    let mut ended = false;
    while !ended {
        let event = match stream.next().await {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(EventStreamError::Transport(Read::Idle))) => return Err(http.timeout("stream idle")),
            Some(Err(EventStreamError::Transport(Read::Http(e)))) => return Err(http.stream_error(&e)),
            Some(Err(e @ (EventStreamError::Utf8(_) | EventStreamError::Parser(_)))) => {
                return Err(http.fault(Fault::protocol(format!("malformed event stream: {e}")), None));
            }
        };
        for item in decoder.decode(&event.event, &event.data).map_err(|f| http.fault(f, None))? {
            match item {
                StreamItem::Text(text) if text.is_empty() => {}
                StreamItem::Text(text) => {
                    progress.text.push_str(&text);
                    let batch = TokenBatch { text, token_ids: Vec::new(), sequence: progress.batches };
                    progress.batches += 1;
                    let _ = events.send(TextEvent::Tokens(batch));
                }
                StreamItem::Usage(u) => progress.usage = Some(u),
                StreamItem::Finish(f) => progress.finish = Some(f),
                StreamItem::End => ended = true,
            }
        }
    }
    // A stream may close without its final marker only after it gave a finish reason.
    let Some(finish_reason) = progress.finish.or(if ended { Some(FinishReason::Stop) } else { None }) else {
        return Err(SippError::Protocol {
            endpoint: http.endpoint().to_string(),
            message: format!(
                "the stream ended before its final event, after {} characters; the answer is incomplete",
                progress.text.chars().count()
            ),
        });
    };
    Ok(SippTextResponse {
        text: std::mem::take(&mut progress.text),
        finish_reason,
        usage: progress.usage,
        local_stats: None,
    })
}

/// Why reading the body stopped.
#[derive(Debug)]
enum Read {
    /// No byte arrived for the idle deadline.
    Idle,
    Http(reqwest::Error),
}

impl fmt::Display for Read {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle => f.write_str("no data within the idle deadline"),
            Self::Http(e) => e.fmt(f),
        }
    }
}

/// The body's bytes, failing with `Read::Idle` after `idle` of silence. Measured on bytes,
/// not events: SSE comments (keep-alives) and partial frames prove the server is alive.
fn idle_guarded(response: reqwest::Response, idle: Duration) -> impl Stream<Item = Result<bytes::Bytes, Read>> {
    futures_util::stream::unfold(Some(response.bytes_stream()), move |body| async move {
        let mut body = body?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(body))),
            Ok(Some(Err(e))) => Some((Err(Read::Http(e)), None)),
            Ok(None) => None,
            // Ends the stream after the error: the body is dropped, closing the connection.
            Err(_) => Some((Err(Read::Idle), None)),
        }
    })
}
