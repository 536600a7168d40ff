//! Reading a remote text answer: a JSON body, or server-sent events decoded by the
//! adapter, with the idle deadline between events. Progress lives outside the future so
//! a cancelled run still returns the text it had.

use super::http::HttpTransport;
use super::wire::{Call, StreamItem, Wire};
use crate::error::{Result, SippError};
use crate::types::{FinishReason, SippTextResponse, TextEvent, TokenBatch, Usage};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
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
    /// The response of a run stopped by `cancel` (no usage: the server did not count).
    pub(crate) fn cancelled(self) -> SippTextResponse {
        SippTextResponse { text: self.text, finish_reason: FinishReason::Cancelled, usage: self.usage, local_stats: None }
    }
}

/// Make `call` and read its answer into `progress`, streaming batches to `events`.
pub(crate) async fn run_text<W: Wire>(
    wire: &W,
    http: &HttpTransport,
    call: &Call,
    events: &mpsc::UnboundedSender<TextEvent>,
    progress: &mut Progress,
    deadline: Instant,
) -> Result<SippTextResponse> {
    let response = http.post(&call.path, &call.body, call.stream, deadline).await?;
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
            let _ = events.send(TextEvent::Tokens(TokenBatch { text: done.text.clone(), token_ids: Vec::new(), sequence: 0 }));
        }
        return Ok(done);
    }
    let mut decoder = wire.decoder();
    let mut stream = response.bytes_stream().eventsource();
    let idle = http.timeouts.idle();
    let mut ended = false;
    while !ended {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Ok(next) => next,
            Err(_) => return Err(http.timeout("stream idle")),
        };
        let event = match next {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(e)) => return Err(http.stream_error(&e)),
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
