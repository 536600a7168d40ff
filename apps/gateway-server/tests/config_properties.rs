//! Property tests of the TOML loader: the shipped example configs, mutated line by line
//! (lines dropped, doubled, values swapped for hostile ones, bytes inserted), always
//! parse to a config or a `Problem` naming a place, and `validate` never panics.

use proptest::prelude::*;
use sipp_gateway_server::config::GatewayConfig;

const EXAMPLES: [&str; 4] = [
    include_str!("../config/local.toml.example"),
    include_str!("../config/development.toml.example"),
    include_str!("../config/production.toml.example"),
    include_str!("../config/provider-only.toml.example"),
];

#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Double(usize),
    Value(usize, &'static str),
    Insert(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let values = prop_oneof![
        Just("0"),
        Just("-1"),
        Just("18446744073709551616"),
        Just("1e400"),
        Just("\"\""),
        Just("\"\\u0000\""),
        Just("[]"),
        Just("{}"),
        Just("true"),
        Just("\"0.0.0.0:0\""),
        Just("\"http://[::1\""),
        Just("nan"),
        Just("\"ümlaut\""),
        Just("[[1]]"),
        Just("4294967296"),
    ];
    prop_oneof![
        (0usize..200).prop_map(Edit::Drop),
        (0usize..200).prop_map(Edit::Double),
        (0usize..200, values).prop_map(|(l, v)| Edit::Value(l, v)),
        (0usize..200, "\\PC{0,12}").prop_map(|(l, s)| Edit::Insert(l, s)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let at = |l: usize| l % lines.len();
        match e {
            Edit::Drop(l) => {
                let i = at(*l);
                lines.remove(i);
            }
            Edit::Double(l) => {
                let i = at(*l);
                lines.insert(i, lines[i].clone());
            }
            Edit::Value(l, v) => {
                let i = at(*l);
                if let Some((key, _)) = lines[i].split_once('=') {
                    lines[i] = format!("{key}= {v}");
                }
            }
            Edit::Insert(l, s) => {
                let i = at(*l);
                lines.insert(i, s.clone());
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_parse_or_name_the_problem(which in 0usize..4, edits in proptest::collection::vec(edit(), 1..6)) {
        let text = apply(EXAMPLES[which], &edits);
        match GatewayConfig::parse(&text) {
            Ok(config) => {
                for p in config.validate() {
                    prop_assert!(!p.path.is_empty() && !p.message.is_empty(), "{p:?}");
                }
            }
            Err(p) => prop_assert!(!p.message.is_empty()),
        }
    }
}

#[test]
fn the_examples_are_valid() {
    for text in EXAMPLES {
        let c = GatewayConfig::parse(text).unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }
}
