//! Blocking on Rust futures from Python threads: the GIL is released while waiting, and
//! every short slice the thread takes it back to run signal handlers, so Ctrl-C raises
//! `KeyboardInterrupt` promptly (and the caller cancels the run).

use pyo3::prelude::*;
use std::future::Future;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How often a blocked thread checks for signals.
const SLICE: Duration = Duration::from_millis(50);

pub(crate) fn runtime() -> &'static Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Drive `fut` to completion on the shared runtime without holding the GIL.
/// `on_interrupt` runs before a signal handler's exception is returned.
pub(crate) fn block_on<F>(py: Python<'_>, fut: F, on_interrupt: impl FnOnce()) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut fut = std::pin::pin!(fut);
    loop {
        let polled = py.detach(|| runtime().block_on(async { tokio::time::timeout(SLICE, fut.as_mut()).await }));
        match polled {
            Ok(out) => return Ok(out),
            Err(_elapsed) => {
                if let Err(e) = py.check_signals() {
                    on_interrupt();
                    return Err(e);
                }
            }
        }
    }
}
