//! `endpoint_stats` runtime metrics on the real default model: running requests, KV cells,
//! token counts and the TTFT / inter-token latency histograms move as requests run.

mod common;

use common::*;
use futures_util::StreamExt;
use sipp::SippClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_metrics_follow_the_requests() {
    let client = SippClient::new();
    let ep = text_endpoint(&client, "metrics").await;
    let info = client.endpoint_info(&ep).unwrap();
    let idle = client.endpoint_stats(&ep).unwrap();
    assert_eq!((idle.running_requests, idle.kv_cells_used, idle.kv_cells_total), (0, 0, u64::from(info.kv_cells)));
    assert_eq!((idle.ttft.count, idle.generated_tokens), (0, 0));

    let mut run =
        client.query(sipp::SippQueryRequest { emit_tokens: true, ..query(&ep, &chatml("Count to ten."), greedy(12)) });
    run.next().await.unwrap().unwrap();
    let busy = client.endpoint_stats(&ep).unwrap();
    assert_eq!(busy.running_requests, 1);
    assert!(busy.kv_cells_used > 0 && busy.ttft.count == 1, "{busy:?}");
    while run.next().await.is_some() {}
    let first = run.response().await.unwrap();
    let second = client.query(query(&ep, &chatml("Name three colors."), greedy(12))).await.unwrap();

    let s = client.endpoint_stats(&ep).unwrap();
    assert_eq!(s.running_requests, 0);
    assert_eq!(s.ttft.count, 2, "{s:?}");
    // Every sampled token is the first of its request or follows another one.
    assert_eq!(s.ttft.count + s.inter_token.count, s.generated_tokens);
    let outputs = u64::from(first.usage.unwrap().output_tokens + second.usage.unwrap().output_tokens);
    assert!(s.generated_tokens >= outputs && s.generated_tokens <= outputs + 2, "{s:?}");
    let prefilled: u32 = [&first, &second].iter().map(|r| r.local_stats.as_ref().unwrap().prefill_tokens).sum();
    assert_eq!(s.prompt_tokens, u64::from(prefilled));
    assert!(s.kv_cells_used > 0, "idle slots keep their prefixes: {s:?}");
    assert_eq!(s.ttft.cumulative().last(), Some(&2));
    assert!(s.ttft.quantile_ms(0.5).is_some() && s.inter_token.sum_us > 0);
}
