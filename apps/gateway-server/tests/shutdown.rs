//! Graceful shutdown through the library's `run_with_drain`, on free loopback ports with
//! the mock upstream: streams still open when the drain bound runs out end with an error
//! event in their own dialect (not a cut connection), and the server then exits.

use futures_util::StreamExt;
use serde_json::json;
use sipp_gateway_server::serve::{prepare, run_with_drain};
use std::time::{Duration, Instant};

mod common;
use common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Reads `response` until it ends; everything it said.
async fn rest(response: reqwest::Response, first: &mut String) {
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        first.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_open_past_the_drain_bound_end_with_an_error_event() {
    let upstream = mock_upstream().await;
    let mut config = config(&upstream, None);
    let (public, management) = (free_port(), free_port());
    config.public_bind = format!("127.0.0.1:{public}");
    config.management_bind = format!("127.0.0.1:{management}");
    let prepared = prepare(config, &env).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run_with_drain(
        prepared,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_millis(300),
    ));
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(format!("http://127.0.0.1:{management}/readyz")).send().await.map_or(true, |r| r.status() != 200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two streams on the stalling target, one per dialect; each has its first token.
    let body = json!({"model": "stall", "messages": [{"role": "user", "content": "Hi"}], "stream": true});
    let mut opened = Vec::new();
    for path in ["/v1/chat", "/v1/chat/completions"] {
        let mut r = http
            .post(format!("http://127.0.0.1:{public}{path}"))
            .bearer_auth(TOKEN_A)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let first = String::from_utf8(r.chunk().await.unwrap().unwrap().to_vec()).unwrap();
        assert!(first.contains("Hel"), "{first}");
        opened.push((r, first));
    }
    let started = Instant::now();
    stop_tx.send(()).unwrap();
    let mut said = Vec::new();
    for (r, mut text) in opened {
        rest(r, &mut text).await;
        said.push(text);
    }
    assert!(said[0].ends_with(
        "event: error\ndata: {\"error\":{\"code\":\"unavailable\",\"message\":\"the gateway is shutting down; retry\"}}\n\n"
    ), "{}", said[0]);
    assert!(said[1].contains("\"type\":\"server_error\"") && said[1].contains("shutting down"), "{}", said[1]);
    assert!(!said[1].contains("[DONE]"), "{}", said[1]);
    server.await.unwrap().unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
}
