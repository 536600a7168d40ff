//! A remote endpoint: an API adapter (`Wire`) plus its HTTP transport, run on the tokio
//! runtime that registered it. Each request is one task; cancelling or dropping the run
//! ends the task, which drops the HTTP response and so closes the connection.

use super::http::HttpTransport;
use super::stream::{run_text, Outbox, Progress, STREAM_CREDITS};
use super::wire::{Call, Wire};
use crate::error::{Result, SippError};
use crate::types::endpoint::{EmbedReply, Endpoint, Operation, TextStream};
use crate::types::{CancelToken, EndpointKind, SippEmbeddingResponse, TextEvent};
use crate::types::{SippEmbedRequest, SippTextRequest};
use reqwest::header::HeaderValue;
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct RemoteEndpoint<W: Wire> {
    shared: Arc<Shared<W>>,
    /// Fired when the endpoint is removed, replaced or closed: its requests in flight
    /// end with `endpoint_closed`, as a local engine's do.
    closing: Arc<CancelToken>,
    runtime: Handle,
}

impl<W: Wire> Drop for RemoteEndpoint<W> {
    fn drop(&mut self) {
        self.closing.cancel("endpoint closed");
    }
}

#[derive(Debug)]
struct Shared<W> {
    wire: W,
    http: HttpTransport,
}

impl<W: Wire> RemoteEndpoint<W> {
    /// Requests run on the runtime current at registration (`add` is async).
    pub(crate) fn new(wire: W, http: HttpTransport) -> Result<Self> {
        let runtime = Handle::try_current()
            .map_err(|_| SippError::InvalidConfig("remote endpoints are added from inside a tokio runtime".into()))?;
        Ok(Self { shared: Arc::new(Shared { wire, http }), closing: Arc::default(), runtime })
    }

    fn check(&self, op: Operation) -> Result<()> {
        if self.shared.wire.supports(op) {
            return Ok(());
        }
        Err(SippError::UnsupportedOperation {
            endpoint: self.shared.http.endpoint().to_string(),
            operation: op.name().into(),
            reason: self.shared.wire.unsupported_reason(op),
        })
    }
}

impl<W: Wire> Endpoint for RemoteEndpoint<W> {
    fn kind(&self) -> EndpointKind {
        self.shared.wire.kind()
    }

    fn supports(&self, op: Operation) -> bool {
        self.shared.wire.supports(op)
    }

    fn text(&self, request: &SippTextRequest) -> Result<TextStream> {
        self.check(Operation::Text)?;
        let call = self.shared.wire.text_call(request)?;
        let correlation = self.shared.http.correlation(request.request_id.as_deref())?;
        let (tx, events) = mpsc::unbounded_channel();
        let credits = Arc::new(Semaphore::new(STREAM_CREDITS));
        let reader_credits = Arc::clone(&credits);
        let cancel = Arc::new(CancelToken::default());
        let shared = Arc::clone(&self.shared);
        let token = Arc::clone(&cancel);
        let closing = Arc::clone(&self.closing);
        self.runtime.spawn(async move {
            let mut progress = Progress::default();
            let deadline = Instant::now() + shared.http.timeouts.request();
            let outcome = {
                let out = Outbox { events: &tx, credits: &credits };
                let work = run_text(&shared.wire, &shared.http, &call, correlation.as_ref(), &out, &mut progress, deadline);
                tokio::select! {
                    r = tokio::time::timeout_at(deadline, work) => Some(r.unwrap_or_else(|_| Err(shared.http.timeout("request")))),
                    () = token.cancelled() => None,
                    () = closing.cancelled() => Some(Err(shared.closed())),
                    // Nobody is listening: stop reading (drops the connection).
                    () = tx.closed() => return,
                }
            };
            let event = match outcome {
                Some(Ok(done)) => TextEvent::Done(done),
                Some(Err(e)) => TextEvent::Failed(e),
                None => TextEvent::Done(progress.cancelled()),
            };
            let _ = tx.send(event);
        });
        Ok(TextStream { events, cancel, credits: Some(reader_credits) })
    }

    fn embed(&self, request: &SippEmbedRequest) -> Result<EmbedReply> {
        self.check(Operation::Embed)?;
        let call = self.shared.wire.embed_call(request)?;
        let correlation = self.shared.http.correlation(request.request_id.as_deref())?;
        let (mut tx, reply) = oneshot::channel();
        let cancel = Arc::new(CancelToken::default());
        let shared = Arc::clone(&self.shared);
        let token = Arc::clone(&cancel);
        let closing = Arc::clone(&self.closing);
        self.runtime.spawn(async move {
            let deadline = Instant::now() + shared.http.timeouts.request();
            let work = embed(&shared, &call, correlation.as_ref(), deadline);
            let outcome = tokio::select! {
                r = tokio::time::timeout_at(deadline, work) => r.unwrap_or_else(|_| Err(shared.http.timeout("request"))),
                () = token.cancelled() => Err(SippError::Cancelled(token.reason().unwrap_or_default())),
                () = closing.cancelled() => Err(shared.closed()),
                () = tx.closed() => return,
            };
            let _ = tx.send(outcome);
        });
        Ok(EmbedReply { reply, cancel })
    }
}

impl<W> Shared<W> {
    fn closed(&self) -> SippError {
        SippError::EndpointClosed(self.http.endpoint().to_string())
    }
}

async fn embed<W: Wire>(
    shared: &Shared<W>,
    call: &Call,
    correlation: Option<&HeaderValue>,
    deadline: Instant,
) -> Result<SippEmbeddingResponse> {
    let http = &shared.http;
    let response = http.post(call, correlation, deadline).await?;
    let value = http.json(response, deadline).await?;
    shared.wire.embed_response(&value).map_err(|f| http.fault(f, None))
}
