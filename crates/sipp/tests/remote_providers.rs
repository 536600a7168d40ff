//! Provider endpoints against a loopback mock: the exact request each adapter sends for
//! every operation, streaming and not, and how answers, stream events and failures come
//! back. No model and no network.

mod mock;

use futures_util::StreamExt;
use mock::{MockServer, Reply};
use serde_json::json;
use sipp::engine::{ChatMessage, ChatRole};
use sipp::{
    EndpointRef, FinishReason, LocalTextOptions, ProviderDescriptor, ProviderKind, SippChatRequest, SippClient,
    SippEmbedRequest, SippQueryRequest, SippTextOptions, Usage,
};
use std::time::Duration;

const KEY: &str = "sk-test-0123456789";

async fn provider(client: &SippClient, mock: &MockServer, kind: ProviderKind, key: Option<&str>) -> EndpointRef {
    let mut d = ProviderDescriptor::new(kind, "model-x").with_base_url(format!("{}/v1", mock.url()));
    if let Some(k) = key {
        d = d.with_api_key(k);
    }
    client.add("p", d).await.expect("add provider")
}

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new(ChatRole::System, "Answer briefly."),
        ChatMessage::new(ChatRole::System, "Use English."),
        ChatMessage::new(ChatRole::User, "Hi"),
        ChatMessage::new(ChatRole::Assistant, "Hello."),
        ChatMessage::new(ChatRole::User, "What is Sipp?"),
    ]
}

fn chat(ep: &EndpointRef, options: SippTextOptions, emit_tokens: bool) -> SippChatRequest {
    SippChatRequest { endpoint: Some(ep.clone()), messages: messages(), options, emit_tokens, ..Default::default() }
}

fn opts() -> SippTextOptions {
    SippTextOptions {
        max_tokens: Some(32),
        temperature: Some(0.2),
        top_p: Some(0.9),
        stop: vec!["\n\n".into()],
        ..Default::default()
    }
}

fn openai_chat_answer() -> serde_json::Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "model-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A runtime."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}
    })
}

#[tokio::test]
async fn openai_chat_sends_the_chat_completions_request() {
    let mock = MockServer::start(vec![Reply::json(200, openai_chat_answer())]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    let r = client.chat(chat(&ep, opts(), false)).await.unwrap();
    assert_eq!((r.text.as_str(), r.finish_reason), ("A runtime.", FinishReason::Stop));
    assert_eq!(r.usage, Some(Usage { input_tokens: 21, output_tokens: 3, total_tokens: 24 }));

    let req = mock.only_request();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(req.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!({
            "model": "model-x",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "system", "content": "Use English."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "What is Sipp?"}
            ],
            "max_completion_tokens": 32, "temperature": 0.2, "top_p": 0.9, "stop": ["\n\n"]
        })
    );
}

#[tokio::test]
async fn openai_query_streams_completions_chunks_split_across_reads() {
    let frames = [
        "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"Par\",\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"is é\",\"finish_reason\":null}]}\n\n",
        ": keep-alive comment\n\n",
        "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\".\",\"finish_reason\":\"length\"}]}\n\n",
        "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n",
        "data: [DONE]\n\n",
    ];
    let mock = MockServer::start(vec![Reply::sse_split(&frames, 7)]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    let request = SippQueryRequest {
        endpoint: Some(ep),
        prompt: "The capital of France is".into(),
        options: SippTextOptions { max_tokens: Some(3), seed: Some(7), ..Default::default() },
        emit_tokens: true,
        ..Default::default()
    };
    let mut run = client.query(request);
    let mut batches = Vec::new();
    while let Some(b) = run.next().await {
        batches.push(b.unwrap());
    }
    assert_eq!(batches.iter().map(|b| b.text.as_str()).collect::<Vec<_>>(), ["Par", "is é", "."]);
    assert_eq!(batches.iter().map(|b| b.sequence).collect::<Vec<_>>(), [0, 1, 2]);
    let r = run.response().await.unwrap();
    assert_eq!((r.text.as_str(), r.finish_reason), ("Paris é.", FinishReason::Length));
    assert_eq!(r.usage, Some(Usage { input_tokens: 5, output_tokens: 3, total_tokens: 8 }));

    let req = mock.only_request();
    assert_eq!(req.path, "/v1/completions");
    assert_eq!(req.header("accept"), Some("text/event-stream"));
    assert_eq!(
        req.json(),
        json!({"model": "model-x", "prompt": "The capital of France is", "max_tokens": 3, "seed": 7,
               "stream": true, "stream_options": {"include_usage": true}})
    );
}

#[tokio::test]
async fn openai_embed_asks_for_floats() {
    let answer = json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
                        "model": "model-x", "usage": {"prompt_tokens": 4, "total_tokens": 4}});
    let mock = MockServer::start(vec![Reply::json(200, answer)]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    let r =
        client.embed(SippEmbedRequest { endpoint: Some(ep), input: "gateway inference".into(), ..Default::default() });
    let r = r.await.unwrap();
    assert_eq!(r.values, [0.6, 0.8]);
    assert!(r.normalized, "a unit vector is reported as normalized");
    assert_eq!((r.usage.unwrap().input_tokens, r.pooling), (4, None));
    let req = mock.only_request();
    assert_eq!(req.path, "/v1/embeddings");
    assert_eq!(req.json(), json!({"model": "model-x", "input": "gateway inference", "encoding_format": "float"}));
}

#[tokio::test]
async fn openai_compatible_needs_a_base_url_sends_no_key_and_uses_max_tokens() {
    let client = SippClient::new();
    let e = client.add("c", ProviderDescriptor::new(ProviderKind::OpenaiCompatible, "m")).await.unwrap_err();
    assert!(e.to_string().contains("needs base_url"), "{e}");

    let mock = MockServer::start(vec![Reply::json(200, openai_chat_answer())]).await;
    let ep = provider(&client, &mock, ProviderKind::OpenaiCompatible, None).await;
    let o = SippTextOptions { max_tokens: Some(8), ..Default::default() };
    client.chat(chat(&ep, o, false)).await.unwrap();
    let req = mock.only_request();
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.json()["max_tokens"], 8);
    assert!(req.json().get("max_completion_tokens").is_none());
}

#[tokio::test]
async fn correlation_header_carries_the_request_id() {
    let mock =
        MockServer::start(vec![Reply::json(200, openai_chat_answer()), Reply::json(200, openai_chat_answer())]).await;
    let client = SippClient::new();
    let mut d =
        ProviderDescriptor::new(ProviderKind::OpenaiCompatible, "m").with_base_url(format!("{}/v1", mock.url()));
    d.correlation_header = Some("x-correlation-id".into());
    let ep = client.add("traced", d).await.unwrap();
    let o = SippTextOptions::default();
    client.chat(SippChatRequest { request_id: Some("req-7".into()), ..chat(&ep, o.clone(), false) }).await.unwrap();
    let plain = provider(&client, &mock, ProviderKind::OpenaiCompatible, None).await;
    client.chat(SippChatRequest { request_id: Some("req-8".into()), ..chat(&plain, o, false) }).await.unwrap();
    let sent: Vec<Option<String>> =
        mock.requests().iter().map(|r| r.header("x-correlation-id").map(String::from)).collect();
    assert_eq!(sent, [Some("req-7".to_string()), None], "only the endpoint that names a header sends one");
    let mut bad = ProviderDescriptor::new(ProviderKind::OpenaiCompatible, "m").with_base_url(mock.url());
    bad.correlation_header = Some("not a header".into());
    let e = client.add("bad", bad).await.unwrap_err();
    assert!(e.to_string().contains("not a valid HTTP header name"), "{e}");
}

#[tokio::test]
async fn provider_options_merge_but_cannot_override_typed_fields() {
    let mock = MockServer::start(vec![Reply::json(200, openai_chat_answer())]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    for key in ["temperature", "model", "messages", "max_tokens", "stream", "top_p", "stop"] {
        let mut request = chat(&ep, SippTextOptions::default(), false);
        request.provider_options.insert(key.into(), json!(1));
        let e = client.chat(request).await.unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert!(e.to_string().contains(&format!("provider_options may not set `{key}`")), "{e}");
    }
    assert!(mock.requests().is_empty(), "a refused request sends nothing");

    let mut request = chat(&ep, SippTextOptions::default(), false);
    request.provider_options.insert("reasoning_effort".into(), json!("low"));
    client.chat(request).await.unwrap();
    assert_eq!(mock.only_request().json()["reasoning_effort"], "low");
}

#[tokio::test]
async fn local_only_options_and_the_gateway_bucket_are_refused() {
    let mock = MockServer::start(vec![]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    let locals = [
        LocalTextOptions { context_key: Some("k".into()), ..Default::default() },
        LocalTextOptions { grammar: Some("root ::= \"a\"".into()), ..Default::default() },
        LocalTextOptions { json_schema: Some(json!({"type": "object"})), ..Default::default() },
        LocalTextOptions { sampling: Some(Default::default()), ..Default::default() },
    ];
    for local in locals {
        let request = SippChatRequest { local, ..chat(&ep, SippTextOptions::default(), false) };
        let e = client.chat(request).await.unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert!(e.to_string().contains("local-only"), "{e}");
    }
    let mut request = chat(&ep, SippTextOptions::default(), false);
    request.endpoint_options.insert("x".into(), json!(1));
    let e = client.chat(request).await.unwrap_err();
    assert!(e.to_string().contains("endpoint_options"), "{e}");
    let embed = SippEmbedRequest {
        endpoint: Some(ep),
        input: "x".into(),
        local: sipp::LocalEmbedOptions { normalize: Some(true), ..Default::default() },
        ..Default::default()
    };
    let e = client.embed(embed).await.unwrap_err();
    assert!(e.to_string().contains("normalize"), "{e}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn anthropic_chat_joins_system_turns_and_sends_its_headers() {
    let answer = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "model-x",
        "content": [{"type": "text", "text": "A local-plus-"}, {"type": "text", "text": "gateway runtime."}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 30, "output_tokens": 6}
    });
    let mock = MockServer::start(vec![Reply::json(200, answer)]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Anthropic, Some(KEY)).await;
    let r = client.chat(chat(&ep, opts(), false)).await.unwrap();
    assert_eq!(r.text, "A local-plus-gateway runtime.");
    assert_eq!(r.usage, Some(Usage { input_tokens: 30, output_tokens: 6, total_tokens: 36 }));

    let req = mock.only_request();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(req.header("x-api-key"), Some(KEY));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(
        req.json(),
        json!({
            "model": "model-x", "max_tokens": 32, "system": "Answer briefly.\n\nUse English.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "What is Sipp?"}
            ],
            "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["\n\n"]
        })
    );
}

fn anthropic_frames() -> Vec<&'static str> {
    vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"model-x\",\"stop_reason\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n",
    ]
}

#[tokio::test]
async fn anthropic_query_streams_events_into_batches_and_usage() {
    let mut frames = anthropic_frames();
    frames.extend([
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ]);
    let mock = MockServer::start(vec![Reply::sse_split(&frames, 11)]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Anthropic, Some(KEY)).await;
    let request =
        SippQueryRequest { endpoint: Some(ep), prompt: "Say hello".into(), emit_tokens: true, ..Default::default() };
    let mut run = client.query(request);
    let mut texts = Vec::new();
    while let Some(b) = run.next().await {
        texts.push(b.unwrap().text);
    }
    assert_eq!(texts, ["Hello", " there"]);
    let r = run.response().await.unwrap();
    assert_eq!((r.text.as_str(), r.finish_reason), ("Hello there", FinishReason::Length));
    assert_eq!(r.usage, Some(Usage { input_tokens: 12, output_tokens: 2, total_tokens: 14 }));
    assert_eq!(
        mock.only_request().json(),
        json!({"model": "model-x", "max_tokens": 4096, "stream": true,
               "messages": [{"role": "user", "content": "Say hello"}]})
    );
}

#[tokio::test]
async fn anthropic_error_event_mid_stream_raises_while_iterating() {
    let mut frames = anthropic_frames();
    frames.push("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
    let mock = MockServer::start(vec![Reply::sse(&frames)]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Anthropic, Some(KEY)).await;
    let mut run = client.chat(chat(&ep, SippTextOptions::default(), true));
    let mut items = Vec::new();
    while let Some(item) = run.next().await {
        items.push(item);
    }
    assert_eq!(items.len(), 3, "two batches, then the error: {items:?}");
    let e = items.pop().unwrap().unwrap_err();
    assert_eq!(e.code(), "unavailable");
    assert!(e.to_string().contains("Overloaded"), "{e}");
    assert_eq!(run.response().await.unwrap_err(), e);
}

#[tokio::test]
async fn anthropic_has_no_embeddings_and_no_seed() {
    let mock = MockServer::start(vec![]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Anthropic, Some(KEY)).await;
    let e = client.embed(SippEmbedRequest { endpoint: Some(ep.clone()), input: "x".into(), ..Default::default() });
    let e = e.await.unwrap_err();
    assert_eq!(e.code(), "unsupported_operation");
    let o = SippTextOptions { seed: Some(1), ..Default::default() };
    assert_eq!(client.chat(chat(&ep, o, false)).await.unwrap_err().code(), "invalid_request");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn keys_never_reach_errors_or_debug_output() {
    let echo = json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error", "code": "invalid_api_key"}});
    let mock = MockServer::start(vec![Reply::json(401, echo)]).await;
    let client = SippClient::new();
    let d = ProviderDescriptor::new(ProviderKind::Openai, "m").with_api_key(KEY).with_base_url(mock.url());
    assert!(!format!("{d:?}").contains(KEY));
    assert!(!serde_json::to_string(&d).unwrap().contains(KEY));
    let ep = client.add("p", d).await.unwrap();
    let e = client.chat(chat(&ep, SippTextOptions::default(), false)).await.unwrap_err();
    assert_eq!(e.code(), "authentication");
    assert!(!e.to_string().contains(KEY) && !format!("{e:?}").contains(KEY), "{e}");
    assert!(e.to_string().contains("[redacted]"), "{e}");
}

#[tokio::test]
async fn a_missing_key_is_refused_at_add() {
    let client = SippClient::new();
    // The variable may exist on a developer machine; an explicit empty key is still refused.
    if std::env::var_os("OPENAI_API_KEY").is_none() {
        let e = client.add("p", ProviderDescriptor::new(ProviderKind::Openai, "m")).await.unwrap_err();
        assert!(e.to_string().contains("needs api_key (or OPENAI_API_KEY"), "{e}");
    }
    let e = client.add("p", ProviderDescriptor::new(ProviderKind::Anthropic, "")).await.unwrap_err();
    assert!(e.to_string().contains("need a model"), "{e}");
}

#[tokio::test]
async fn a_slow_upstream_hits_the_request_deadline() {
    let stall = Reply::Stream { pieces: vec![], pause: Duration::ZERO, stall: true };
    let mock = MockServer::start(vec![stall]).await;
    let client = SippClient::new();
    let mut d = ProviderDescriptor::new(ProviderKind::OpenaiCompatible, "m").with_base_url(mock.url());
    d.timeouts.request_ms = Some(300);
    d.timeouts.idle_ms = Some(60_000);
    let ep = client.add("p", d).await.unwrap();
    let e = client.chat(chat(&ep, SippTextOptions::default(), true)).await.unwrap_err();
    assert_eq!(e.code(), "timeout");
    assert!(e.to_string().contains("request timed out after 300 ms (timeouts.request_ms)"), "{e}");
}

#[tokio::test]
async fn openai_error_chunk_mid_stream_fails_the_run() {
    let frames = [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
        "data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"code\":null}}\n\n",
    ];
    let mock = MockServer::start(vec![Reply::sse(&frames)]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    let mut run = client.chat(chat(&ep, SippTextOptions::default(), true));
    assert_eq!(run.next().await.unwrap().unwrap().text, "Hel");
    let e = run.next().await.unwrap().unwrap_err();
    assert_eq!(e.code(), "execution");
    assert!(e.to_string().contains("The server had an error"), "{e}");
}

#[tokio::test]
async fn a_server_that_ignores_stream_still_streams_one_batch() {
    let mock = MockServer::start(vec![Reply::json(200, openai_chat_answer())]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::OpenaiCompatible, None).await;
    let mut run = client.chat(chat(&ep, SippTextOptions::default(), true));
    assert_eq!(run.next().await.unwrap().unwrap().text, "A runtime.");
    assert!(run.next().await.is_none());
    assert_eq!(run.response().await.unwrap().text, "A runtime.");
}

#[tokio::test]
async fn an_answer_that_is_not_the_api_is_a_protocol_error() {
    let html = Reply::Full {
        status: 200,
        headers: vec![("content-type".into(), "text/html".into())],
        body: "<html>hi</html>".into(),
    };
    let mock = MockServer::start(vec![html, Reply::json(200, json!({"object": "list", "data": []}))]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::Openai, Some(KEY)).await;
    let e = client.chat(chat(&ep, SippTextOptions::default(), false)).await.unwrap_err();
    assert_eq!(e.code(), "protocol");
    assert!(e.to_string().contains("response is not JSON") && e.to_string().contains("<html>hi</html>"), "{e}");
    let e = client.embed(SippEmbedRequest { endpoint: Some(ep), input: "x".into(), ..Default::default() });
    let e = e.await.unwrap_err();
    assert!(e.to_string().contains("no data[0].embedding"), "{e}");
}

/// `min_p` was added to `SippTextOptions` alone: the OpenAI-style adapters send it under
/// its own name, and Anthropic, whose API has none, refuses it by name before sending.
#[tokio::test]
async fn a_shared_option_reaches_openai_style_apis_and_anthropic_refuses_what_it_lacks() {
    let mock = MockServer::start(vec![Reply::json(200, openai_chat_answer())]).await;
    let client = SippClient::new();
    let ep = provider(&client, &mock, ProviderKind::OpenaiCompatible, None).await;
    let o = SippTextOptions { min_p: Some(0.05), temperature: Some(0.7), ..Default::default() };
    client.chat(chat(&ep, o.clone(), false)).await.unwrap();
    let sent = mock.only_request().json();
    assert_eq!((sent["min_p"].clone(), sent["temperature"].clone()), (json!(0.05), json!(0.7)));

    let anthropic = MockServer::start(vec![]).await;
    let ep = provider(&client, &anthropic, ProviderKind::Anthropic, Some(KEY)).await;
    let e = client.chat(chat(&ep, o, false)).await.unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("min_p is not supported by Anthropic's API"), "{e}");
    assert!(anthropic.requests().is_empty());

    let bad = SippTextOptions { min_p: Some(1.5), ..Default::default() };
    let e = client.chat(chat(&ep, bad, false)).await.unwrap_err();
    assert!(e.to_string().contains("min_p must be within [0, 1]"), "{e}");
}
