//! Run handles: what `query`, `chat` and `embed` return at once. Token batches stream
//! from the handle; the final response is a future; `cancel` and dropping the handle
//! take the same path (the engine frees the sequence on its next step).

use crate::error::{Result, SippError};
use crate::types::{CancelToken, SippEmbeddingResponse, SippTextResponse, TextEvent, TokenBatch};
use futures_core::Stream;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// A running `query` or `chat`.
#[derive(Debug)]
pub struct SippTextRun {
    events: Option<mpsc::UnboundedReceiver<TextEvent>>,
    /// Handed back to the producer per batch taken (see `TextStream::credits`).
    credits: Option<Arc<Semaphore>>,
    cancel: Option<Arc<CancelToken>>,
    outcome: Option<Result<SippTextResponse>>,
    /// The run failed and iteration has not yielded the error yet.
    error_unreported: bool,
    endpoint: String,
}

impl SippTextRun {
    pub(crate) fn live(
        endpoint: &str,
        events: mpsc::UnboundedReceiver<TextEvent>,
        cancel: Arc<CancelToken>,
        credits: Option<Arc<Semaphore>>,
    ) -> Self {
        Self {
            events: Some(events),
            credits,
            cancel: Some(cancel),
            outcome: None,
            error_unreported: false,
            endpoint: endpoint.to_string(),
        }
    }

    /// A run that failed before it started (unknown endpoint, bad options, …).
    pub(crate) fn failed(error: SippError) -> Self {
        Self {
            events: None,
            credits: None,
            cancel: None,
            outcome: Some(Err(error)),
            error_unreported: true,
            endpoint: String::new(),
        }
    }

    /// Stop generation; the response then ends with `finish_reason = cancelled`.
    pub fn cancel(&self, reason: &str) {
        if let Some(c) = &self.cancel {
            c.cancel(reason);
        }
    }

    /// The token shared with the engine, for front ends that cancel from elsewhere.
    #[must_use]
    pub fn cancel_token(&self) -> Option<Arc<CancelToken>> {
        self.cancel.clone()
    }

    /// Poll for the next token batch. A run that fails yields its error once, where the
    /// caller is looking, then ends; `Ready(None)` once the run has ended.
    pub fn poll_next_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<TokenBatch>>> {
        loop {
            let Some(rx) = self.events.as_mut() else {
                if self.error_unreported {
                    self.error_unreported = false;
                    if let Some(Err(e)) = &self.outcome {
                        return Poll::Ready(Some(Err(e.clone())));
                    }
                }
                return Poll::Ready(None);
            };
            match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(TextEvent::Tokens(batch))) => {
                    if let Some(c) = &self.credits {
                        c.add_permits(1);
                    }
                    return Poll::Ready(Some(Ok(batch)));
                }
                Poll::Ready(event) => self.settle(event),
            }
        }
    }

    /// Next token batch, the run's error, or `None` once generation ended (then await
    /// the response).
    pub async fn next_batch(&mut self) -> Option<Result<TokenBatch>> {
        std::future::poll_fn(|cx| self.poll_next_batch(cx)).await
    }

    /// The final response (consumes any token batches not yet read).
    pub async fn response(mut self) -> Result<SippTextResponse> {
        self.finish().await
    }

    /// Like `response` without consuming the handle; later calls return the same outcome.
    pub async fn finish(&mut self) -> Result<SippTextResponse> {
        while self.next_batch().await.is_some() {}
        self.outcome()
    }

    fn settle(&mut self, event: Option<TextEvent>) {
        let outcome = match event {
            Some(TextEvent::Done(response)) => Ok(response),
            Some(TextEvent::Failed(error)) => Err(error),
            Some(TextEvent::Tokens(_)) | None => Err(SippError::EndpointClosed(self.endpoint.clone())),
        };
        self.error_unreported = outcome.is_err();
        self.outcome = Some(outcome);
        self.events = None;
    }

    fn outcome(&self) -> Result<SippTextResponse> {
        self.outcome.clone().unwrap_or_else(|| Err(SippError::EndpointClosed(self.endpoint.clone())))
    }
}

/// Items are `Ok(batch)` while tokens stream, then `Err(e)` once if the run failed.
impl Stream for SippTextRun {
    type Item = Result<TokenBatch>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<TokenBatch>>> {
        self.get_mut().poll_next_batch(cx)
    }
}

impl IntoFuture for SippTextRun {
    type Output = Result<SippTextResponse>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.response())
    }
}

impl Drop for SippTextRun {
    fn drop(&mut self) {
        if self.events.is_some() {
            self.cancel("run handle dropped");
        }
    }
}

/// A running `embed`.
#[derive(Debug)]
pub struct SippEmbeddingRun {
    reply: Option<oneshot::Receiver<Result<SippEmbeddingResponse>>>,
    cancel: Option<Arc<CancelToken>>,
    error: Option<SippError>,
    endpoint: String,
}

impl SippEmbeddingRun {
    pub(crate) fn live(
        endpoint: &str,
        reply: oneshot::Receiver<Result<SippEmbeddingResponse>>,
        cancel: Arc<CancelToken>,
    ) -> Self {
        Self { reply: Some(reply), cancel: Some(cancel), error: None, endpoint: endpoint.to_string() }
    }

    pub(crate) fn failed(error: SippError) -> Self {
        Self { reply: None, cancel: None, error: Some(error), endpoint: String::new() }
    }

    pub fn cancel(&self, reason: &str) {
        if let Some(c) = &self.cancel {
            c.cancel(reason);
        }
    }

    #[must_use]
    pub fn cancel_token(&self) -> Option<Arc<CancelToken>> {
        self.cancel.clone()
    }

    pub async fn response(mut self) -> Result<SippEmbeddingResponse> {
        match self.reply.take() {
            Some(rx) => rx.await.unwrap_or_else(|_| Err(SippError::EndpointClosed(self.endpoint.clone()))),
            None => Err(self.error.take().unwrap_or_else(|| SippError::EndpointClosed(self.endpoint.clone()))),
        }
    }

    pub fn blocking_response(mut self) -> Result<SippEmbeddingResponse> {
        match self.reply.take() {
            Some(rx) => rx.blocking_recv().unwrap_or_else(|_| Err(SippError::EndpointClosed(self.endpoint.clone()))),
            None => Err(self.error.take().unwrap_or_else(|| SippError::EndpointClosed(self.endpoint.clone()))),
        }
    }
}

impl IntoFuture for SippEmbeddingRun {
    type Output = Result<SippEmbeddingResponse>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.response())
    }
}

impl Drop for SippEmbeddingRun {
    fn drop(&mut self) {
        if self.reply.is_some() {
            self.cancel("run handle dropped");
        }
    }
}
