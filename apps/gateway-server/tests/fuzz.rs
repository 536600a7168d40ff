//! Fuzzing the public routes (first-party and OpenAI-compatible) of a real gateway with
//! a local target (the default model) and a provider target: at least 10,000 bodies per
//! run from a fixed seed, plus the corpus of past failures (`tests/data/fuzz_corpus.jsonl`).
//! Every answer must be the error JSON with a 4xx, or a valid answer: never a 5xx, a
//! hang, a panic, a dropped connection, or RSS growth beyond noise.
//!
//! `SIPP_FUZZ_BODIES` sets the count, `SIPP_FUZZ_SECONDS` runs for a time instead
//! (`cargo xtask fuzz --minutes N`), `SIPP_FUZZ_SEED` picks another seed.

mod harness;

use harness::{Running, TOKEN};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUTES: &[&str] =
    &["/v1/query", "/v1/chat", "/v1/embed", "/v1/chat/completions", "/v1/completions", "/v1/embeddings"];
const MAX_REQUEST_BYTES: usize = 65536;

static PANICS: AtomicUsize = AtomicUsize::new(0);

async fn gateway() -> Running {
    let (upstream, _) = harness::faulty_upstream(None).await;
    let local = format!("{}[limits]\nmax_embedding_inputs = 16\n", harness::local_target(1024));
    let (text, public, management) = harness::config_text(&upstream, &["ok"], "", &local);
    harness::start(&text, public, management).await
}

/// A valid body for `route` and `model`.
fn base(route: &str, model: &str) -> Value {
    match route {
        "/v1/query" | "/v1/completions" => json!({"model": model, "prompt": "Say hi.", "max_tokens": 1}),
        "/v1/embed" | "/v1/embeddings" => json!({"model": model, "input": "hello"}),
        _ => json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}),
    }
}

const FIELDS: &[&str] = &[
    "model",
    "prompt",
    "messages",
    "input",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "stream",
    "stream_options",
    "user",
    "n",
    "logit_bias",
    "grammar",
    "json_schema",
    "encoding_format",
    "dimensions",
    "endpoint_options",
    "protocol_options",
    "priority",
    "cache_prompt",
    "",
];

fn weird_string(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..10) {
        0 => String::new(),
        1 => "\u{0}".repeat(rng.random_range(1..50)),
        2 => "\u{FFFD}\u{1F600}\u{202E}".repeat(rng.random_range(1..20)),
        3 => "x".repeat(rng.random_range(1000..20000)),
        4 => "ok".into(),
        5 => "local".into(),
        6 => "\\ud800".into(),
        7 => (0..rng.random_range(1..40)).map(|_| char::from(rng.random_range(32u8..127))).collect(),
        8 => "user".into(),
        _ => "assistant".into(),
    }
}

/// A JSON value of any type, sometimes extreme.
fn weird_value(rng: &mut ChaCha8Rng, depth: u32) -> Value {
    match rng.random_range(0..16) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(u64::MAX),
        4 => json!(-1),
        5 => json!(0),
        6 => json!(rng.random::<f64>() * 1e6),
        7 => json!(f64::MAX),
        8 => json!(1e-300),
        9 => json!(weird_string(rng)),
        10 if depth < 4 => Value::Array((0..rng.random_range(0..6)).map(|_| weird_value(rng, depth + 1)).collect()),
        11 if depth < 4 => {
            let mut m = Map::new();
            for _ in 0..rng.random_range(0..5) {
                let k = FIELDS[rng.random_range(0..FIELDS.len())];
                m.insert(k.into(), weird_value(rng, depth + 1));
            }
            Value::Object(m)
        }
        12 => json!([{"role": weird_string(rng), "content": weird_string(rng)}]),
        13 => Value::Array((0..rng.random_range(100..3000)).map(|i| json!(format!("s{i}"))).collect()),
        14 => json!(rng.random_range(0..5000)),
        _ => json!(weird_string(rng)),
    }
}

/// One body for `route`: a valid one mutated, or bytes no client library would send.
fn body(rng: &mut ChaCha8Rng, route: &str) -> Vec<u8> {
    // Mostly the provider target; the local one sparingly (each valid call generates).
    let model = match rng.random_range(0..100) {
        0..=2 => "local".to_string(),
        3..=8 => weird_string(rng),
        _ => "ok".to_string(),
    };
    let mut v = base(route, &model);
    match rng.random_range(0..12) {
        // Random bytes.
        0 => return (0..rng.random_range(0..2000)).map(|_| rng.random::<u8>()).collect(),
        // A valid body cut short.
        1 => {
            let text = v.to_string().into_bytes();
            let cut = rng.random_range(0..text.len());
            return text[..cut].to_vec();
        }
        // Deeply nested.
        2 => {
            let depth = rng.random_range(10..20000);
            let (open, close) = if rng.random() { ("[", "]") } else { ("{\"a\":", "}") };
            return format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes();
        }
        // Invalid UTF-8 inside a string.
        3 => {
            let mut text = v.to_string().into_bytes();
            let at = text.iter().position(|b| *b == b'"').unwrap_or(0) + 1;
            text.splice(at..at, [0xff, 0xfe, 0xc3]);
            return text;
        }
        // At the size limit, and one past it.
        4 => {
            let pad = MAX_REQUEST_BYTES - v.to_string().len() - 10 + rng.random_range(0..20);
            v["padding"] = json!("p".repeat(pad));
            return v.to_string().into_bytes();
        }
        // Thousands of messages or stop strings.
        5 => {
            let n = rng.random_range(500..3000);
            if v.get("messages").is_some() {
                v["messages"] = Value::Array((0..n).map(|_| json!({"role": "user", "content": "a"})).collect());
            } else {
                v["stop"] = Value::Array((0..n).map(|i| json!(format!("{i}"))).collect());
            }
        }
        // Lone surrogates and NUL as JSON escapes.
        6 => {
            let text =
                v.to_string().replace("hello", "\\ud800\\u0000").replace("Hi", "\\udfff").replace("Say", "\\u0000");
            return text.into_bytes();
        }
        // Field mutations: wrong types, removals, unknown fields.
        _ => {
            let obj = v.as_object_mut().unwrap();
            for _ in 0..rng.random_range(1..4) {
                let key = FIELDS[rng.random_range(0..FIELDS.len())].to_string();
                match rng.random_range(0..4) {
                    0 => {
                        obj.remove(&key);
                    }
                    _ => {
                        obj.insert(key, weird_value(rng, 0));
                    }
                }
            }
        }
    }
    // What runs on the local target stays short: one token, no stream.
    if let Some(o) = v.as_object_mut().filter(|o| o.get("model") == Some(&json!("local"))) {
        o.insert("max_tokens".into(), json!(1));
        o.remove("max_completion_tokens");
    }
    v.to_string().into_bytes()
}

/// Whether an answer is what the property allows; `None` when fine, else why not.
fn check(status: u16, content_type: &str, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    if status == 200 {
        if content_type.starts_with("text/event-stream") {
            let ended = text.contains("event: done") || text.contains("data: [DONE]") || text.contains("event: error");
            return (!ended).then(|| format!("a stream without its final event: {text:.300}"));
        }
        return match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => None,
            _ => Some(format!("a 200 that is not a JSON object: {text:.300}")),
        };
    }
    if !(400..500).contains(&status) {
        return Some(format!("status {status}: {text:.300}"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if harness::is_error_json(&v) => None,
        _ => Some(format!("a {status} without the error JSON: {text:.300}")),
    }
}

/// Send `body` to `route`; `Err` names what broke the property.
async fn exchange(client: &reqwest::Client, gw: &Running, route: &str, body: Vec<u8>) -> Result<u16, String> {
    let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    let sent = client
        .post(gw.url(route))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    let r = sent.map_err(|e| format!("{route} {shown}: no answer ({e:?})"))?;
    let status = r.status().as_u16();
    let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let bytes = r.bytes().await.map_err(|e| format!("{route} {shown}: the answer broke off ({e})"))?;
    match check(status, &content_type, &bytes) {
        None => Ok(status),
        Some(why) => Err(format!("{route} {shown}: {why}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_bodies_get_an_error_json_or_an_answer() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let seed: u64 = std::env::var("SIPP_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(16);
    let count: usize = std::env::var("SIPP_FUZZ_BODIES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seconds: Option<u64> = std::env::var("SIPP_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let gw = Arc::new(gateway().await);
    let client = reqwest::Client::new();

    // The corpus first: past failures stay fixed.
    let corpus =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/fuzz_corpus.jsonl")).unwrap();
    let mut failures = Vec::new();
    let mut sent = 0usize;
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).unwrap();
        let (route, body) = (entry["route"].as_str().unwrap(), entry["body"].as_str().unwrap());
        if let Err(e) = exchange(&client, &gw, route, body.as_bytes().to_vec()).await {
            failures.push(e);
        }
        sent += 1;
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut rss_after_warmup = None;
    let more = |done: usize| match seconds {
        Some(s) => started.elapsed() < Duration::from_secs(s),
        None => done < count,
    };
    let mut generated = 0usize;
    while more(generated) && failures.len() < 20 {
        // Batches of 8 at once: concurrency without unbounded memory.
        let batch: Vec<(String, Vec<u8>)> = (0..8)
            .map(|_| {
                let route = ROUTES[rng.random_range(0..ROUTES.len())].to_string();
                let b = body(&mut rng, &route);
                (route, b)
            })
            .collect();
        generated += batch.len();
        let answers = futures_util::future::join_all(batch.into_iter().map(|(route, b)| {
            let (client, gw) = (client.clone(), Arc::clone(&gw));
            async move { exchange(&client, &gw, &route, b).await }
        }))
        .await;
        for a in answers {
            match a {
                Ok(status) => *statuses.entry(status).or_default() += 1,
                Err(e) => failures.push(e),
            }
        }
        if rss_after_warmup.is_none() && generated >= 1000 {
            rss_after_warmup = Some(harness::rss_bytes());
        }
    }
    sent += generated;
    let rss_end = harness::rss_bytes();
    eprintln!(
        "fuzz: seed {seed}, {sent} bodies ({generated} generated) in {:.1} s; statuses {statuses:?}; \
         RSS after warm-up {} MB, at the end {} MB",
        started.elapsed().as_secs_f64(),
        rss_after_warmup.unwrap_or(0) >> 20,
        rss_end >> 20
    );
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(sent >= 10_000 || std::env::var("SIPP_FUZZ_BODIES").is_ok() || seconds.is_some(), "{sent}");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a handler panicked");
    if let Some(warm) = rss_after_warmup {
        let grown = rss_end.saturating_sub(warm);
        assert!(grown < 64 << 20, "RSS grew {} MB after warm-up", grown >> 20);
    }
    assert_eq!(gw.metric("sipp_gateway_in_flight_requests").await, 0.0);
    Arc::try_unwrap(gw).ok().unwrap().stop().await;
}

/// The input rules of issue 16 item 13, the same on every route and target kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_rules_are_the_same_everywhere() {
    let gw = gateway().await;
    let chat = |model: &str, extra: Value| {
        let mut v = base("/v1/chat", model);
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    for model in ["ok", "local"] {
        for route in ["/v1/chat", "/v1/chat/completions"] {
            let (status, _, body) = harness::post(&gw, route, &chat(model, json!({"stop": [""]}))).await;
            assert_eq!(status, 400, "{model} {route} stop [\"\"]: {body}");
            let (status, _, body) = harness::post(&gw, route, &chat(model, json!({"stop": null}))).await;
            assert_eq!(status, 200, "{model} {route} stop null: {body}");
        }
        for route in ["/v1/query", "/v1/completions"] {
            let mut v = base(route, model);
            v["stop"] = Value::Null;
            let (status, _, body) = harness::post(&gw, route, &v).await;
            assert_eq!(status, 200, "{model} {route} stop null: {body}");
        }
    }
    for user in [json!(5), json!({"a": 1}), json!(["x"])] {
        let (status, _, body) = harness::post(&gw, "/v1/chat/completions", &chat("ok", json!({"user": user}))).await;
        assert_eq!(status, 400, "user {user}: {body}");
    }
    let (status, _, _) = harness::post(&gw, "/v1/chat/completions", &chat("ok", json!({"user": "end-user-1"}))).await;
    assert_eq!(status, 200);
    // A batch past limits.max_embedding_inputs is refused before any upstream call.
    let inputs: Vec<String> = (0..17).map(|i| format!("in {i}")).collect();
    let (status, _, body) = harness::post(&gw, "/v1/embeddings", &json!({"model": "ok", "input": inputs})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("max_embedding_inputs"), "{body}");
    gw.stop().await;
}
