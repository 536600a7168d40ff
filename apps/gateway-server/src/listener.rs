//! One listener's accept loop. `axum::serve` has no header or idle timeout and no
//! connection limit; this is hyper's HTTP/1 server with both, and a clear refusal past the
//! limit. Each listener has its own budget, so a saturated public port leaves the
//! management probes reachable. HTTP/1.1 and 1.0 only: h2c is not offered (put a proxy in
//! front for HTTP/2).

use crate::limits::MAX_HEAD_BYTES;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one listener allows.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// `public` or `management`: log field and metrics label.
    pub name: &'static str,
    pub max_connections: usize,
    /// Connect (or previous answer) to a complete request header.
    pub header_timeout: Duration,
}

/// Connections being refused at once; past this a connection over the limit is closed
/// without an answer (each refusal holds a descriptor for up to [`REFUSAL_WRITE`]).
const REFUSALS_AT_ONCE: usize = 64;
const REFUSAL_WRITE: Duration = Duration::from_secs(2);

/// Serve `app` on `listener` until `stop` resolves, then wait for the open connections
/// (idle ones close at once; the caller bounds the wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    state: Arc<AppState>,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let mut warned = Throttle::default();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE/ENFILE: out of descriptors. Waiting lets connections finish;
                    // spinning on accept would only burn the CPU they need.
                    warned.warn(|| tracing::warn!(listener = limits.name, error = %e, "accept failed"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            state.metrics.connection_refused(limits.name);
            warned.warn(|| {
                tracing::warn!(
                    listener = limits.name,
                    max_connections = limits.max_connections,
                    "connection limit reached: refusing new connections with 503"
                );
            });
            if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` would add: the rate limit reads it.
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            // The head limits answered in JSON (`app::head_limits`) sit inside these.
            .max_buf_size(MAX_HEAD_BYTES)
            .max_headers(1000)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        let open = Open::new(&state, limits.name);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                if e.is_timeout() {
                    open.state.metrics.connection_timed_out(limits.name);
                    tracing::debug!(listener = limits.name, %peer, "connection closed: no complete request header in time");
                } else {
                    tracing::debug!(listener = limits.name, %peer, error = %e, "connection ended with an error");
                }
            }
            drop(open);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The answer to a connection over the limit: a 503 in the error JSON, then close.
async fn refuse(mut stream: TcpStream) {
    let body = sipp_gateway::GatewayHttpError::new(
        sipp_gateway::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the gateway has too many open connections; retry",
    )
    .body();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_WRITE, write).await;
}

/// The open-connections gauge of one listener, held by its connection task.
struct Open {
    state: Arc<AppState>,
    name: &'static str,
}

impl Open {
    fn new(state: &Arc<AppState>, name: &'static str) -> Self {
        state.metrics.connection_opened(name);
        Self { state: Arc::clone(state), name }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.state.metrics.connection_closed(self.name);
    }
}

/// At most one warning every 10 s: a flood must not become a log flood.
#[derive(Debug, Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn warn(&mut self, log: impl FnOnce()) {
        if self.0.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            self.0 = Some(Instant::now());
            log();
        }
    }
}
