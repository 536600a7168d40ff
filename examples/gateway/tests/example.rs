//! The example gateway runs and answers the profile: JSON, SSE, and a typed 404.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_example_answers_query_chat_stream_and_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let model = sipp_models::default_model().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipp-example-gateway"))
        .arg(&model)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| http.post(format!("{url}{path}")).body(body.to_string()).send();
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        match post("/v1/query", serde_json::json!({"model": "local", "prompt": "The sky is", "max_tokens": 3})).await {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("the example never answered: {e}"),
        }
    };
    let v: serde_json::Value = serde_json::from_slice(&first.bytes().await.unwrap()).unwrap();
    assert_eq!((v["model"].as_str(), v["finish_reason"].as_str()), (Some("local"), Some("length")));
    let chat = serde_json::json!({"model": "local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "stream": true});
    let sse = String::from_utf8(post("/v1/chat", chat).await.unwrap().bytes().await.unwrap().to_vec()).unwrap();
    assert_eq!(sse.matches("event: token").count(), 3, "{sse}");
    assert!(sse.ends_with("event: done\ndata: {\"finish_reason\":\"length\"}\n\n"), "{sse}");
    let missing = post("/v1/query", serde_json::json!({"model": "elsewhere", "prompt": "x"})).await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let v: serde_json::Value = serde_json::from_slice(&missing.bytes().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let _ = child.kill();
    let _ = child.wait();
}
