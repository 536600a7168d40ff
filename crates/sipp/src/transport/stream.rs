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
use tokio::sync::{mpsc, Semaphore};
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

/// Where a remote run's token batches go: the run's event channel, at most
/// [`STREAM_CREDITS`] ahead of its reader.
#[derive(Debug)]
pub(crate) struct Outbox<'a> {
    pub events: &'a mpsc::UnboundedSender<TextEvent>,
    pub credits: &'a Semaphore,
}

impl Outbox<'_> {
    /// Send `batch`, first waiting for a credit: past `STREAM_CREDITS` unread batches
    /// the upstream is not read until the caller catches up (TCP then slows it down).
    async fn send(&self, batch: TokenBatch) {
        if let Ok(permit) = self.credits.acquire().await {
            permit.forget();
        }
        let _ = self.events.send(TextEvent::Tokens(batch));
    }
}

/// Make `call` and read its answer into `progress`, streaming batches to `out`.
pub(crate) async fn run_text<W: Wire>(
    wire: &W,
    http: &HttpTransport,
    call: &Call,
    correlation: Option<&HeaderValue>,
    out: &Outbox<'_>,
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
            out.send(TokenBatch { text: done.text.clone(), token_ids: Vec::new(), sequence: 0 }).await;
        }
        return Ok(done);
    }
    let mut decoder = wire.decoder();
    let mut stream = std::pin::pin!(guarded(response, http.timeouts.idle()).eventsource());
    let mut ended = false;
    while !ended {
        let event = match stream.next().await {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(EventStreamError::Transport(Read::Idle))) => return Err(http.timeout("stream idle")),
            Some(Err(EventStreamError::Transport(Read::Oversize))) => {
                let kib = EVENT_LIMIT >> 10;
                return Err(http.fault(Fault::protocol(format!("a stream event is larger than {kib} KiB")), None));
            }
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
                    out.send(batch).await;
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

/// Largest stream event (its `data` lines together): an upstream that never ends a line
/// or an event must not make this process hold it all.
pub(crate) const EVENT_LIMIT: usize = 1024 * 1024;

/// Token batches a remote stream may get ahead of its reader.
pub(crate) const STREAM_CREDITS: usize = 64;

/// Why reading the body stopped.
#[derive(Debug)]
enum Read {
    /// No byte arrived for the idle deadline.
    Idle,
    /// An event grew past [`EVENT_LIMIT`] without ending.
    Oversize,
    Http(reqwest::Error),
}

impl fmt::Display for Read {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle => f.write_str("no data within the idle deadline"),
            Self::Oversize => f.write_str("a stream event is too large"),
            Self::Http(e) => e.fmt(f),
        }
    }
}

/// Bytes of the event being received, counted between blank lines.
#[derive(Debug, Default)]
struct EventSize {
    event: usize,
    line: usize,
}

impl EventSize {
    /// Count `chunk`; false once the current event passed [`EVENT_LIMIT`].
    fn take(&mut self, chunk: &[u8]) -> bool {
        for &b in chunk {
            match b {
                b'\n' if self.line == 0 => self.event = 0,
                b'\n' => self.line = 0,
                b'\r' => {}
                _ => {
                    self.line += 1;
                    self.event += 1;
                }
            }
        }
        self.event <= EVENT_LIMIT
    }
}

/// The body's bytes, failing with `Read::Idle` after `idle` of silence and with
/// `Read::Oversize` past [`EVENT_LIMIT`]. Idleness is measured on bytes, not events: SSE
/// comments (keep-alives) and partial frames prove the server is alive.
fn guarded(response: reqwest::Response, idle: Duration) -> impl Stream<Item = Result<bytes::Bytes, Read>> {
    let state = (response.bytes_stream(), EventSize::default());
    futures_util::stream::unfold(Some(state), move |state| async move {
        let (mut body, mut size) = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(Ok(bytes))) if size.take(&bytes) => Some((Ok(bytes), Some((body, size)))),
            // Each error ends the stream after it: the body is dropped, closing the connection.
            Ok(Some(Ok(_))) => Some((Err(Read::Oversize), None)),
            Ok(Some(Err(e))) => Some((Err(Read::Http(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(Read::Idle), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_size_counts_between_blank_lines() {
        let mut s = EventSize::default();
        let line = vec![b'a'; EVENT_LIMIT / 2];
        assert!(s.take(b"data: ") && s.take(&line) && s.take(b"\r\n\r\n"));
        // Many short lines of one event add up; a blank line starts the next event.
        let mut s = EventSize::default();
        for _ in 0..(EVENT_LIMIT / 8) {
            assert!(s.take(b"data: x\n"));
        }
        assert!(!s.take(&line), "one event past the limit");
        let mut s = EventSize::default();
        for _ in 0..64 {
            assert!(s.take(&line[..EVENT_LIMIT / 4]) && s.take(b"\n\n"));
        }
        let mut s = EventSize::default();
        assert!(!s.take(&vec![b'x'; EVENT_LIMIT + 1]), "a line without an end");
    }
}
