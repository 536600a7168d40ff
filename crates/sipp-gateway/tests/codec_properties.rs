//! Property tests of both wire codecs: any bytes decode to a request or a 400 with a
//! message (never a panic, never another status), and what the Sipp client encodes the
//! gateway decodes to the same request.

use proptest::prelude::*;
use sipp::gateway_profile::TextRequestBody;
use sipp::SippTextOptions;
use sipp_gateway::{GatewayCodec, OpenAiCodec, ProtocolCodec};

/// JSON-ish text: the structure the decoders look at, with hostile leaves.
fn jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("1e400".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("\"\"".to_string()),
        "[a-z]{0,8}".prop_map(|s| format!("\"{s}\"")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f}")),
    ];
    let keys = prop_oneof![
        Just("model"),
        Just("prompt"),
        Just("messages"),
        Just("input"),
        Just("max_tokens"),
        Just("temperature"),
        Just("top_p"),
        Just("stop"),
        Just("seed"),
        Just("stream"),
        Just("role"),
        Just("content"),
        Just("user"),
        Just("stream_options"),
        Just("include_usage"),
        Just("encoding_format"),
        Just("type"),
        Just("text"),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                let fields: Vec<String> = kv.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

fn refused_cleanly(status: u16, message: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(status, 400);
    prop_assert!(!message.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_body_decodes_or_is_a_400(body in prop_oneof![jsonish().prop_map(String::into_bytes), proptest::collection::vec(any::<u8>(), 0..256)]) {
        let sipp = GatewayCodec;
        let openai = OpenAiCodec;
        let errors = [
            sipp.decode_query(&body).err(),
            sipp.decode_chat(&body).err(),
            sipp.decode_embed(&body).err(),
            openai.decode_chat(&body).err(),
            openai.decode_completion(&body).err(),
            openai.decode_embeddings(&body).err(),
        ];
        for e in errors.into_iter().flatten() {
            refused_cleanly(e.status.as_u16(), &e.message)?;
        }
    }

    /// The body the gateway client sends decodes to what it described.
    #[test]
    fn what_the_client_encodes_the_gateway_decodes(
        model in "[a-z][a-z0-9-]{0,15}",
        prompt in "\\PC{1,64}",
        max_tokens in proptest::option::of(1u32..4096),
        stop in proptest::collection::vec("\\PC{1,8}", 0..4),
        seed in proptest::option::of(any::<u32>()),
        stream in any::<bool>(),
    ) {
        let options = SippTextOptions { max_tokens, stop: stop.clone(), seed, ..Default::default() };
        let body = TextRequestBody { model: model.clone(), prompt: Some(prompt.clone()), options, stream, ..Default::default() };
        let bytes = serde_json::to_vec(&body).unwrap();
        let d = GatewayCodec.decode_query(&bytes).unwrap();
        prop_assert_eq!(d.target, model);
        prop_assert_eq!(d.request.prompt.as_raw(), Some(prompt.as_str()));
        prop_assert_eq!(d.request.options.max_tokens, max_tokens);
        prop_assert_eq!(d.request.options.stop, stop);
        prop_assert_eq!(d.request.options.seed, seed);
        prop_assert_eq!(d.request.emit_tokens, stream);
    }
}
