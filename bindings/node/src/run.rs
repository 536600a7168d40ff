//! Run handles as JavaScript sees them. A run starts on a blocking thread (a local
//! endpoint tokenizes the prompt there, off the event loop); every wait is a Promise
//! settled from the engine's side, so the event loop never blocks. Dropping the
//! JavaScript object (once no wait on it is pending) drops the Rust run, which cancels it.

use crate::errors::IntoJsResult;
use crate::shape::outbound;
use napi::bindgen_prelude::spawn_blocking;
use napi_derive::napi;
use serde_json::Value;
use sipp::{
    Result as SippResult, SippClient, SippEmbedRequest, SippEmbeddingRun, SippError, SippTextRequest, SippTextRun,
};
use std::sync::{Arc, Mutex as SyncMutex};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// One batch of streamed tokens (`sequence` counts batches from 0).
#[derive(Debug)]
#[napi(object)]
pub struct TokenBatch {
    pub text: String,
    pub token_ids: Vec<i32>,
    pub sequence: i64,
}

impl From<sipp::TokenBatch> for TokenBatch {
    fn from(b: sipp::TokenBatch) -> Self {
        Self { text: b.text, token_ids: b.token_ids, sequence: i64::try_from(b.sequence).unwrap_or(i64::MAX) }
    }
}

fn to_js_document<T: serde::Serialize>(value: &T, def: &str) -> SippResult<Value> {
    serde_json::to_value(value)
        .map(|v| outbound(v, def))
        .map_err(|e| SippError::Execution(format!("cannot encode the response: {e}")))
}

/// A run that is starting (on a blocking thread) or started.
#[derive(Debug)]
enum Stage<R> {
    Starting(JoinHandle<R>),
    Started(R),
    Gone,
}

/// What both run kinds share: the start, and a cancel that works before it is done.
#[derive(Debug)]
struct Lifecycle<R> {
    stage: Mutex<Stage<R>>,
    /// A cancel that came before the run existed, applied once it does.
    early_cancel: SyncMutex<Option<String>>,
    token: SyncMutex<Option<Arc<sipp::CancelToken>>>,
}

trait Cancellable {
    fn token(&self) -> Option<Arc<sipp::CancelToken>>;
}

impl Cancellable for SippTextRun {
    fn token(&self) -> Option<Arc<sipp::CancelToken>> {
        self.cancel_token()
    }
}

impl Cancellable for SippEmbeddingRun {
    fn token(&self) -> Option<Arc<sipp::CancelToken>> {
        self.cancel_token()
    }
}

impl<R: Cancellable + Send + 'static> Lifecycle<R> {
    fn start(f: impl FnOnce() -> R + Send + 'static) -> Arc<Self> {
        Arc::new(Self {
            stage: Mutex::new(Stage::Starting(spawn_blocking(f))),
            early_cancel: SyncMutex::new(None),
            token: SyncMutex::new(None),
        })
    }

    /// The started run, under its lock.
    async fn started(&self) -> SippResult<tokio::sync::MutexGuard<'_, Stage<R>>> {
        let mut stage = self.stage.lock().await;
        if let Stage::Starting(handle) = &mut *stage {
            let run = handle.await.map_err(|e| SippError::Execution(format!("the run did not start: {e}")))?;
            // Publish the token before reading an early cancel: a cancel that saw no
            // token left its reason for this read, one that sees the token uses it.
            let token = run.token();
            lock(&self.token).clone_from(&token);
            if let (Some(t), Some(reason)) = (&token, lock(&self.early_cancel).take()) {
                t.cancel(&reason);
            }
            *stage = Stage::Started(run);
        }
        Ok(stage)
    }

    fn cancel(&self, reason: &str) {
        match lock(&self.token).as_ref() {
            Some(t) => t.cancel(reason),
            None => *lock(&self.early_cancel) = Some(reason.to_string()),
        }
        // The run may have started between the two reads.
        if let Some(t) = lock(&self.token).as_ref() {
            t.cancel(reason);
        }
    }
}

fn lock<T>(m: &SyncMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Native side of `SippTextRun` (query and chat).
#[derive(Debug)]
#[napi]
pub struct NativeTextRun {
    life: Arc<Lifecycle<SippTextRun>>,
    /// A route that makes a client per request returns a streaming Response holding only
    /// the run: the client must live as long as the run does, whenever JavaScript
    /// collects its own handle (dropping a client closes its endpoints).
    _client: Arc<SippClient>,
}

impl NativeTextRun {
    pub(crate) fn start(client: &Arc<SippClient>, request: SippTextRequest) -> Self {
        let c = Arc::clone(client);
        Self { life: Lifecycle::start(move || c.text(&request)), _client: Arc::clone(client) }
    }
}

#[napi]
impl NativeTextRun {
    /// The next token batch, or `null` once generation ended; rejects with the run's
    /// error, so iteration never ends quietly.
    #[napi]
    pub async fn next_batch(&self) -> napi::Result<Option<TokenBatch>> {
        let life = Arc::clone(&self.life);
        let next = async move {
            let mut stage = life.started().await?;
            match &mut *stage {
                Stage::Started(run) => run.next_batch().await.transpose().map(|b| b.map(TokenBatch::from)),
                _ => Ok(None),
            }
        };
        next.await.js()
    }

    /// The final response (camelCase fields); waits for the remaining tokens.
    #[napi]
    pub async fn finish(&self) -> napi::Result<Value> {
        let life = Arc::clone(&self.life);
        let finish = async move {
            let mut stage = life.started().await?;
            match &mut *stage {
                Stage::Started(run) => to_js_document(&run.finish().await?, "SippTextResponse"),
                _ => Err(SippError::Cancelled("the run was released".into())),
            }
        };
        finish.await.js()
    }

    /// Stop generation; the response ends with finishReason "cancelled".
    #[napi]
    pub fn cancel(&self, reason: String) {
        self.life.cancel(&reason);
    }
}

/// Native side of `SippEmbeddingRun`; the response is kept, so it can be read again.
#[derive(Debug)]
#[napi]
pub struct NativeEmbeddingRun {
    life: Arc<Lifecycle<SippEmbeddingRun>>,
    outcome: Arc<Mutex<Option<SippResult<Value>>>>,
    _client: Arc<SippClient>,
}

impl NativeEmbeddingRun {
    pub(crate) fn start(client: &Arc<SippClient>, request: SippEmbedRequest) -> Self {
        let c = Arc::clone(client);
        Self {
            life: Lifecycle::start(move || c.embed(request)),
            outcome: Arc::new(Mutex::new(None)),
            _client: Arc::clone(client),
        }
    }
}

#[napi]
impl NativeEmbeddingRun {
    #[napi]
    pub async fn response(&self) -> napi::Result<Value> {
        let (life, outcome) = (Arc::clone(&self.life), Arc::clone(&self.outcome));
        let response = async move {
            let mut cached = outcome.lock().await;
            if let Some(done) = cached.as_ref() {
                return done.clone();
            }
            let mut stage = life.started().await?;
            let result = match std::mem::replace(&mut *stage, Stage::Gone) {
                Stage::Started(run) => run.response().await.and_then(|r| to_js_document(&r, "SippEmbeddingResponse")),
                _ => Err(SippError::Cancelled("the embedding run was released".into())),
            };
            *cached = Some(result.clone());
            result
        };
        response.await.js()
    }

    #[napi]
    pub fn cancel(&self, reason: String) {
        self.life.cancel(&reason);
    }
}
