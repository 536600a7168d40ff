//! Run handles as Python sees them. One Rust method serves both the blocking call
//! (GIL released, Ctrl-C aware) and the awaitable one; dropping the Python object drops
//! the Rust run, which cancels it.

use crate::awaitable::awaitable;
use crate::errors::IntoPyResult;
use crate::wait::block_on;
use pyo3::prelude::*;
use sipp::CancelToken;
use sipp::{Result as SippResult, SippEmbeddingRun, SippTextRun, TokenBatch};
use std::sync::Arc;
use tokio::sync::Mutex;

/// (text, token_ids, sequence) — a tuple keeps the per-token path free of JSON.
type BatchTuple = (String, Vec<i32>, u64);

fn tuple(b: TokenBatch) -> BatchTuple {
    (b.text, b.token_ids, b.sequence)
}

fn to_json<T: serde::Serialize>(value: &T) -> SippResult<String> {
    serde_json::to_string(value).map_err(|e| sipp::SippError::Execution(format!("cannot encode response: {e}")))
}

/// Native side of `sipp.SippTextRun`.
#[derive(Debug)]
#[pyclass(frozen, module = "sipp._sipp")]
pub struct NativeTextRun {
    run: Arc<Mutex<SippTextRun>>,
    cancel: Option<Arc<CancelToken>>,
}

impl NativeTextRun {
    pub(crate) fn new(run: SippTextRun) -> Self {
        let cancel = run.cancel_token();
        Self { run: Arc::new(Mutex::new(run)), cancel }
    }

    fn interrupt(&self) -> impl FnOnce() + '_ {
        move || {
            if let Some(c) = &self.cancel {
                c.cancel("KeyboardInterrupt");
            }
        }
    }
}

/// The next batch; a failed run raises here, so iteration never ends quietly.
async fn next(run: Arc<Mutex<SippTextRun>>) -> SippResult<Option<BatchTuple>> {
    run.lock().await.next_batch().await.transpose().map(|b| b.map(tuple))
}

async fn finish(run: Arc<Mutex<SippTextRun>>) -> SippResult<String> {
    let response = run.lock().await.finish().await?;
    to_json(&response)
}

#[pymethods]
impl NativeTextRun {
    /// Next token batch, or None once generation ended; raises the run's error. Blocks
    /// without the GIL.
    fn next_batch(&self, py: Python<'_>) -> PyResult<Option<BatchTuple>> {
        block_on(py, next(Arc::clone(&self.run)), self.interrupt())?.py()
    }

    /// Awaitable `next_batch`.
    fn next_batch_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let run = Arc::clone(&self.run);
        awaitable(py, async move { next(run).await.py() })
    }

    /// Final response as JSON. Blocks without the GIL; Ctrl-C cancels the run.
    fn result(&self, py: Python<'_>) -> PyResult<String> {
        block_on(py, finish(Arc::clone(&self.run)), self.interrupt())?.py()
    }

    /// Awaitable `result`; cancelling the awaiting task drops only the wait.
    fn result_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let run = Arc::clone(&self.run);
        awaitable(py, async move { finish(run).await.py() })
    }

    /// Stop generation; the response ends with finish_reason "cancelled".
    fn cancel(&self, reason: &str) {
        if let Some(c) = &self.cancel {
            c.cancel(reason);
        }
    }
}

/// Native side of `sipp.SippEmbeddingRun`.
#[derive(Debug)]
#[pyclass(frozen, module = "sipp._sipp")]
pub struct NativeEmbeddingRun {
    run: Arc<Mutex<Option<SippEmbeddingRun>>>,
    outcome: Arc<Mutex<Option<SippResult<String>>>>,
    cancel: Option<Arc<CancelToken>>,
}

impl NativeEmbeddingRun {
    pub(crate) fn new(run: SippEmbeddingRun) -> Self {
        let cancel = run.cancel_token();
        Self { run: Arc::new(Mutex::new(Some(run))), outcome: Arc::new(Mutex::new(None)), cancel }
    }
}

async fn embedding(
    run: Arc<Mutex<Option<SippEmbeddingRun>>>,
    outcome: Arc<Mutex<Option<SippResult<String>>>>,
) -> SippResult<String> {
    let mut cached = outcome.lock().await;
    if let Some(done) = cached.as_ref() {
        return done.clone();
    }
    let taken = run.lock().await.take();
    let result = match taken {
        Some(run) => run.response().await.and_then(|r| to_json(&r)),
        None => Err(sipp::SippError::Cancelled("the embedding wait was interrupted".into())),
    };
    *cached = Some(result.clone());
    result
}

#[pymethods]
impl NativeEmbeddingRun {
    fn result(&self, py: Python<'_>) -> PyResult<String> {
        let cancel = self.cancel.clone();
        let interrupt = move || {
            if let Some(c) = cancel {
                c.cancel("KeyboardInterrupt");
            }
        };
        block_on(py, embedding(Arc::clone(&self.run), Arc::clone(&self.outcome)), interrupt)?.py()
    }

    fn result_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (run, outcome) = (Arc::clone(&self.run), Arc::clone(&self.outcome));
        awaitable(py, async move { embedding(run, outcome).await.py() })
    }

    fn cancel(&self, reason: &str) {
        if let Some(c) = &self.cancel {
            c.cancel(reason);
        }
    }
}
