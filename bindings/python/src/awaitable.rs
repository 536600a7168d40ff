//! Rust futures as asyncio awaitables, with an exact count of native tasks that may
//! still touch Python.
//!
//! Why not `pyo3_async_runtimes::future_into_py`: it resolves the asyncio future from a
//! blocking-pool thread through `loop.call_soon_threadsafe`, which releases the GIL while
//! it wakes the loop. The loop can then finish the script and start interpreter
//! finalization while that thread waits to take the GIL back; CPython ends such a thread
//! mid-call and the process aborts (`PyGILState_Release … finalizing`) or segfaults.
//! Here each task holds an [`InFlight`] guard until it has released the GIL for good, and
//! the facade's `atexit` hook calls [`quiesce`] to wait for the count to reach zero before
//! finalization begins.

use crate::wait::runtime;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Set by `quiesce`: the interpreter is exiting, so tasks finishing late leave Python alone.
static EXITING: AtomicBool = AtomicBool::new(false);

struct InFlight;

impl InFlight {
    fn enter() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Done-callback of the asyncio future: when the awaiting task is cancelled (or the
/// future completes), the Rust future is dropped, which cancels the run it waits on.
#[pyclass(module = "sipp._sipp")]
struct CancelOnDone {
    tx: Mutex<Option<oneshot::Sender<()>>>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        if let Some(tx) = self.tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(());
        }
    }
}

/// `sipp._run._resolve(future, ok, value)`: sets the outcome unless the future is done.
fn resolver(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RESOLVE.import(py, "sipp._run", "_resolve")
}

/// An asyncio future on the running loop, resolved with `fut`'s outcome.
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    future.call_method1("add_done_callback", (CancelOnDone { tx: Mutex::new(Some(cancel_tx)) },))?;
    resolver(py)?;
    let (event_loop, py_future) = (event_loop.unbind(), future.clone().unbind());
    let guard = InFlight::enter();
    runtime().spawn(async move {
        // Dropped last: after the GIL is released for good, or without taking it.
        let _guard = guard;
        let outcome = tokio::select! {
            outcome = fut => outcome,
            _ = cancel_rx => return,
        };
        if EXITING.load(Ordering::Acquire) {
            return;
        }
        Python::attach(|py| {
            let (ok, value) = match outcome.and_then(|v| v.into_bound_py_any(py)) {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_bound(py).into_any()),
            };
            let resolve = match resolver(py) {
                Ok(r) => r,
                Err(e) => return e.write_unraisable(py, None),
            };
            // A loop closed meanwhile raises RuntimeError: nobody awaits the result then.
            let _ = event_loop.bind(py).call_method1("call_soon_threadsafe", (resolve, py_future.bind(py), ok, value));
        });
    });
    Ok(future)
}

/// Wait, without the GIL, until no native task will touch Python again (or `timeout`
/// passes); from then on late tasks skip Python. Returns whether all finished in time.
#[pyfunction]
pub(crate) fn quiesce(py: Python<'_>, timeout: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout.clamp(0.0, 60.0));
    let settled = py.detach(|| loop {
        if IN_FLIGHT.load(Ordering::Acquire) == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    });
    EXITING.store(true, Ordering::Release);
    settled
}
