//! Where the JSON log lines go: standard error, in batches.
//!
//! Writing each request's line straight to stderr was one `write` system call per
//! request, ~3% of a proxied request's CPU time on one pinned core (another 3% is
//! formatting the line). Lines are appended to a buffer instead and written when it
//! holds [`FLUSH_BYTES`], every [`FLUSH_EVERY`], at once for warnings and errors, and
//! when the process stops (`flush`). A line therefore reaches stderr at most
//! [`FLUSH_EVERY`] after it was logged; a `SIGKILL` loses at most that much.
//! (`tracing-appender`'s non-blocking writer hands every line to a worker thread, which
//! on one core is a wake-up and a context switch per request.)

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// A buffer this full is written at once.
const FLUSH_BYTES: usize = 32 * 1024;
/// The longest a line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The subscriber's writer; cheap to clone (one shared buffer).
#[derive(Debug, Clone, Default)]
pub struct BufferedStderr {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl BufferedStderr {
    /// A writer whose buffer a background thread writes out every [`FLUSH_EVERY`].
    pub fn start() -> Self {
        let writer = Self::default();
        let flusher = writer.clone();
        // Detached: it holds only the buffer, and the process exit ends it.
        let _ = std::thread::Builder::new().name("log-flush".into()).spawn(move || loop {
            std::thread::sleep(FLUSH_EVERY);
            flusher.flush();
        });
        writer
    }

    /// Write out what is buffered (also called when the process stops).
    pub fn flush(&self) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        write_out(&mut buffer);
    }
}

/// Written under the buffer's lock, so lines keep their order.
fn write_out(buffer: &mut Vec<u8>) {
    if buffer.is_empty() {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    // Nowhere to report a failed log write; the lines are dropped rather than kept forever.
    let _ = stderr.write_all(buffer).and_then(|()| stderr.flush());
    buffer.clear();
}

/// One event's writer: its formatted line goes into the shared buffer.
#[derive(Debug)]
pub struct Line<'a> {
    buffer: &'a Mutex<Vec<u8>>,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        buffer.extend_from_slice(bytes);
        if self.urgent || buffer.len() >= FLUSH_BYTES {
            write_out(&mut buffer);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { buffer: &self.buffer, urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line { buffer: &self.buffer, urgent: *meta.level() <= Level::WARN }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_lines_wait_and_warnings_go_at_once() {
        let w = BufferedStderr::default();
        let subscriber = tracing_subscriber::fmt().json().with_writer(w.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(n = 1, "request");
            let held = String::from_utf8(w.buffer.lock().unwrap().clone()).unwrap();
            assert!(held.ends_with('\n') && held.contains("\"request\""), "an info line waits: {held}");
            tracing::warn!("upstream down");
            assert!(w.buffer.lock().unwrap().is_empty(), "a warning writes out itself and everything before it");
        });
    }
}
