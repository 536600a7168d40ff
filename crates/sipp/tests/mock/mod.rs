//! A loopback HTTP/1.1 server for adapter tests. It records every request exactly as
//! it arrived (method, path, headers, body bytes) and answers with scripted replies:
//! whole bodies, SSE frames written in separate TCP writes (so they arrive split), a
//! stalled stream, or a close. It also notices when the client hangs up.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-cased names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole response.
    Full { status: u16, headers: Vec<(String, String)>, body: String },
    /// `200 text/event-stream`; each piece is written (and flushed) separately after a
    /// pause, then the connection closes, or stays open and silent if `stall`.
    Stream { pieces: Vec<String>, pause: Duration, stall: bool },
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self::Full { status, headers: vec![("content-type".into(), "application/json".into())], body: body.to_string() }
    }

    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Self::Full { status, mut headers, body } => {
                headers.push((name.into(), value.into()));
                Self::Full { status, headers, body }
            }
            other => other,
        }
    }

    /// SSE frames, one TCP write each.
    pub fn sse(frames: &[&str]) -> Self {
        Self::Stream {
            pieces: frames.iter().map(|f| f.to_string()).collect(),
            pause: Duration::from_millis(5),
            stall: false,
        }
    }

    /// The same bytes cut at arbitrary points (inside lines and JSON), one write each.
    pub fn sse_split(frames: &[&str], every: usize) -> Self {
        let all: String = frames.concat();
        let bytes = all.as_bytes();
        let pieces = bytes.chunks(every).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        Self::Stream { pieces, pause: Duration::from_millis(3), stall: false }
    }
}

#[derive(Debug, Default)]
struct State {
    replies: Mutex<VecDeque<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
    /// Connections whose client hung up while the mock still had something to say or
    /// was holding the stream open.
    hangups: Mutex<usize>,
    hung_up: Notify,
}

#[derive(Debug, Clone)]
pub struct MockServer {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl MockServer {
    /// Serve `replies` in order, one per request (a request past the end gets 500).
    pub async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State { replies: Mutex::new(replies.into()), ..State::default() });
        let s = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&s)));
            }
        });
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.recorded.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Recorded {
        let r = self.requests();
        assert_eq!(r.len(), 1, "expected exactly one request, got {r:?}");
        r.into_iter().next().unwrap()
    }

    /// Wait until a client hung up on a stream (panics after `within`).
    pub async fn wait_hangup(&self, within: Duration) {
        let wait = async {
            loop {
                let notified = self.state.hung_up.notified();
                if *self.state.hangups.lock().unwrap() > 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait).await.expect("the client should have closed the connection");
    }
}

async fn serve(mut socket: TcpStream, state: Arc<State>) {
    let Some(request) = read_request(&mut socket).await else { return };
    state.recorded.lock().unwrap().push(request);
    let reply = state.replies.lock().unwrap().pop_front();
    let reply = reply.unwrap_or_else(|| {
        Reply::json(500, serde_json::json!({"error": {"code": "mock", "message": "no reply scripted"}}))
    });
    match reply {
        Reply::Full { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} Mock\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
        Reply::Stream { pieces, pause, stall } => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for piece in pieces {
                tokio::time::sleep(pause).await;
                if socket.write_all(piece.as_bytes()).await.is_err() || socket.flush().await.is_err() {
                    hung_up(&state);
                    return;
                }
            }
            if stall {
                // Hold the stream open; a read of 0 bytes means the client closed it.
                let mut buf = [0u8; 64];
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            hung_up(&state);
                            return;
                        }
                        Ok(_) => {}
                    }
                }
            }
            let _ = socket.shutdown().await;
        }
    }
}

fn hung_up(state: &State) {
    *state.hangups.lock().unwrap() += 1;
    state.hung_up.notify_waiters();
}

async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded { method, path, headers, body })
}
