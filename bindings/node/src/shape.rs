//! Field names between JavaScript and the core's serde types, read off the one schema
//! (`sipp::boundary_schema`, checked in as `schema/sipp.schema.json`; the package's
//! TypeScript types are generated from the same file by the same rule):
//!
//! - Request, descriptor and response fields are camelCase in JavaScript (`modelPath`,
//!   `maxTokens`, `finishReason`), as the spec's Node pages write them.
//! - Runtime config groups (every `…RuntimeConfig` type and what it holds) keep their
//!   snake_case names (`config: { context: { n_ctx } }`): they are llama.cpp's knobs and
//!   read the same in every language.
//! - Free-form maps (`endpointOptions`, `providerOptions`, `jsonSchema`,
//!   `protocolOptions`) pass through untouched.
//!
//! Coming in, a key the schema does not name is refused with the field's path in the
//! caller's spelling, instead of being dropped, and `null`/`undefined` mean "not set".

use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// Spelling of the field names under a schema node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Camel,
    Snake,
}

fn defs() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(|| match sipp::boundary_schema().get_mut("$defs").map(Value::take) {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    })
}

/// The schema node of a named boundary type (`SippTextRequest`, …).
fn def(name: &str) -> &'static Value {
    static EMPTY: Value = Value::Null;
    defs().get(name).unwrap_or(&EMPTY)
}

/// Follow `$ref`s; entering a runtime config group switches to snake_case.
fn resolve(mut schema: &'static Value, mut case: Case) -> (&'static Value, Case) {
    while let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        if name.ends_with("RuntimeConfig") {
            case = Case::Snake;
        }
        schema = def(name);
    }
    (schema, case)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// The variants of a union (`Option<T>`, untagged and tagged enums), resolved.
fn variants(schema: &'static Value, case: Case) -> Vec<(&'static Value, Case)> {
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten()
        .map(|v| resolve(v, case))
        .collect()
}

/// The object variant a value is: the only one, or the one whose `const` fields (a
/// serde tag) it matches.
fn object_variant(schema: &'static Value, case: Case, value: &Map<String, Value>) -> Option<(&'static Value, Case)> {
    let objects: Vec<_> = variants(schema, case).into_iter().filter(|(v, _)| properties(v).is_some()).collect();
    if objects.len() <= 1 {
        return objects.into_iter().next();
    }
    objects.into_iter().find(|(v, _)| {
        properties(v).is_some_and(|props| {
            props.iter().all(|(name, p)| match p.get("const") {
                Some(tag) => value.get(name) == Some(tag),
                None => true,
            })
        })
    })
}

fn array_items(schema: &'static Value, case: Case) -> Option<(&'static Value, Case)> {
    if let Some(items) = schema.get("items") {
        return Some(resolve(items, case));
    }
    variants(schema, case).into_iter().find_map(|(v, c)| v.get("items").map(|i| resolve(i, c)))
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn spelled(name: &str, case: Case) -> String {
    match case {
        Case::Camel => camel(name),
        Case::Snake => name.to_string(),
    }
}

fn unknown_field(key: &str, path: &str, props: &Map<String, Value>, case: Case) -> String {
    let mut expected = String::new();
    for (i, name) in props.keys().filter(|k| props[*k].get("const").is_none()).enumerate() {
        let _ = write!(expected, "{}`{}`", if i == 0 { "" } else { ", " }, spelled(name, case));
    }
    format!("unknown field `{key}` in `{path}`; expected one of {expected}")
}

fn walk_in(schema: &'static Value, case: Case, value: Value, path: &str) -> Result<Value, String> {
    let (schema, case) = resolve(schema, case);
    match value {
        Value::Object(object) => {
            let chosen =
                if properties(schema).is_some() { Some((schema, case)) } else { object_variant(schema, case, &object) };
            let Some((schema, case)) = chosen else { return Ok(Value::Object(object)) };
            let Some(props) = properties(schema) else { return Ok(Value::Object(object)) };
            let mut out = Map::new();
            for (key, v) in object {
                if v.is_null() {
                    continue;
                }
                let name = match case {
                    Case::Camel => snake(&key),
                    Case::Snake => key.clone(),
                };
                match props.get(&name) {
                    Some(sub) if spelled(&name, case) == key => {
                        let inner = walk_in(sub, case, v, &format!("{path}.{key}"))?;
                        out.insert(name, inner);
                    }
                    _ => return Err(unknown_field(&key, path, props, case)),
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => match array_items(schema, case) {
            Some((item, case)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| walk_in(item, case, v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            None => Ok(Value::Array(items)),
        },
        other => Ok(other),
    }
}

fn walk_out(schema: &'static Value, case: Case, value: Value) -> Value {
    let (schema, case) = resolve(schema, case);
    match value {
        Value::Object(object) => {
            let chosen =
                if properties(schema).is_some() { Some((schema, case)) } else { object_variant(schema, case, &object) };
            let Some((schema, case)) = chosen else { return Value::Object(object) };
            let Some(props) = properties(schema) else { return Value::Object(object) };
            object
                .into_iter()
                .map(|(key, v)| match props.get(&key) {
                    Some(sub) => (spelled(&key, case), walk_out(sub, case, v)),
                    None => (key, v),
                })
                .collect::<Map<_, _>>()
                .into()
        }
        Value::Array(items) => match array_items(schema, case) {
            Some((item, case)) => Value::Array(items.into_iter().map(|v| walk_out(item, case, v)).collect()),
            None => Value::Array(items),
        },
        other => other,
    }
}

/// A JavaScript value (camelCase) as the document serde reads for boundary type `def`;
/// `label` names it in errors (`options` → `options.maxTokns`).
pub(crate) fn inbound(value: Value, def_name: &str, label: &str) -> Result<Value, String> {
    walk_in(def(def_name), Case::Camel, value, label)
}

/// A serialized boundary type as JavaScript sees it.
pub(crate) fn outbound(value: Value, def_name: &str) -> Value {
    walk_out(def(def_name), Case::Camel, value)
}

/// Every key camelCase, for documents outside the boundary schema (engine counters and
/// model info, read-only views).
pub(crate) fn camel_keys(value: Value) -> Value {
    match value {
        Value::Object(o) => o.into_iter().map(|(k, v)| (camel(&k), camel_keys(v))).collect::<Map<_, _>>().into(),
        Value::Array(a) => Value::Array(a.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

/// Deserialize a converted document; a serde error names the field in the caller's
/// spelling (`options.maxTokens: invalid type: string "x", expected u32`).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(document: Value, def_name: &str, label: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(document).map_err(|e| {
        let (mut schema, mut case) = resolve(def(def_name), Case::Camel);
        let mut path = label.to_string();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Map { key } => {
                    let _ = write!(path, ".{}", spelled(key, case));
                    let sub = properties(schema).and_then(|p| p.get(key));
                    (schema, case) = match sub {
                        Some(sub) => resolve(sub, case),
                        None => (&Value::Null, case),
                    };
                }
                serde_path_to_error::Segment::Seq { index } => {
                    let _ = write!(path, "[{index}]");
                    if let Some(item) = array_items(schema, case) {
                        (schema, case) = item;
                    }
                }
                _ => {}
            }
        }
        let mut message = e.inner().to_string();
        // "missing field `model_path`" names a field of the node the error is at.
        if let Some(props) = properties(schema) {
            for name in props.keys().filter(|n| n.contains('_')) {
                message = message.replace(&format!("`{name}`"), &format!("`{}`", spelled(name, case)));
            }
        }
        format!("{path}: {message}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_fields_are_camel_case_and_config_groups_keep_their_names() {
        let js = json!({
            "modelPath": "/m.gguf",
            "config": {"context": {"n_ctx": 2048}, "scheduler": {"continuous_batching": true}},
        });
        let rust = inbound(js, "LocalModelDescriptor", "descriptor").unwrap();
        assert_eq!(
            rust,
            json!({"model_path": "/m.gguf", "config": {"context": {"n_ctx": 2048}, "scheduler": {"continuous_batching": true}}})
        );
    }

    #[test]
    fn free_form_maps_pass_through_and_nulls_mean_unset() {
        let js = json!({
            "prompt": "p",
            "emitTokens": true,
            "options": {"maxTokens": 4, "temperature": null},
            "local": {"contextKey": "k", "jsonSchema": {"type": "object", "properties": {"some_field": {}}}, "sampling": {"top_k": 3}},
            "providerOptions": {"reasoning_effort": "low", "someCamel": 1},
        });
        let rust = inbound(js, "SippTextRequest", "request").unwrap();
        assert_eq!(
            rust,
            json!({
                "prompt": "p",
                "emit_tokens": true,
                "options": {"max_tokens": 4},
                "local": {"context_key": "k", "json_schema": {"type": "object", "properties": {"some_field": {}}}, "sampling": {"top_k": 3}},
                "provider_options": {"reasoning_effort": "low", "someCamel": 1},
            })
        );
    }

    #[test]
    fn chat_messages_and_endpoint_refs_walk_through_unions() {
        let js = json!({"prompt": [{"role": "user", "content": "hi"}], "endpoint": {"kind": "local", "id": "d"}});
        assert!(inbound(js, "SippTextRequest", "request").is_ok());
        let bad = json!({"prompt": [{"role": "user", "contnt": "hi"}]});
        let e = inbound(bad, "SippTextRequest", "request").unwrap_err();
        assert!(e.contains("unknown field `contnt` in `request.prompt[0]`"), "{e}");
    }

    #[test]
    fn unknown_fields_are_named_in_the_callers_spelling() {
        let e = inbound(json!({"options": {"maxTokns": 3}}), "SippTextRequest", "request").unwrap_err();
        assert!(e.contains("unknown field `maxTokns` in `request.options`"), "{e}");
        assert!(e.contains("`maxTokens`, `minP`, `seed`, `stop`, `temperature`, `topP`"), "{e}");
        // snake_case is the config groups' spelling, not the envelope's.
        let e = inbound(json!({"model_path": "/m"}), "LocalModelDescriptor", "descriptor").unwrap_err();
        assert!(e.contains("unknown field `model_path`"), "{e}");
        let e = inbound(json!({"config": {"context": {"nCtx": 1}}}), "LocalModelDescriptor", "descriptor").unwrap_err();
        assert!(e.contains("unknown field `nCtx` in `descriptor.config.context`; expected one of"), "{e}");
        assert!(e.contains("`n_ctx`"), "{e}");
    }

    #[test]
    fn serde_errors_name_the_field_as_javascript_wrote_it() {
        let doc = inbound(json!({"options": {"maxTokens": "x"}}), "SippTextRequest", "request").unwrap();
        let e = parse::<sipp::SippTextRequest>(doc, "SippTextRequest", "request").unwrap_err();
        assert!(e.starts_with("request.options.maxTokens: invalid type"), "{e}");
        let doc = inbound(json!({"config": {}}), "LocalModelDescriptor", "descriptor").unwrap();
        let e = parse::<sipp::LocalModelDescriptor>(doc, "LocalModelDescriptor", "descriptor").unwrap_err();
        assert!(e.contains("missing field `modelPath`"), "{e}");
    }

    #[test]
    fn responses_come_out_camel_case() {
        let r = json!({"text": "t", "finish_reason": "stop", "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}, "local_stats": null});
        assert_eq!(
            outbound(r, "SippTextResponse"),
            json!({"text": "t", "finishReason": "stop", "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}, "localStats": null})
        );
    }
}
