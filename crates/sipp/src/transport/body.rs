//! Small pieces every adapter's bodies and answers need.

use crate::types::{PoolingType, SippEmbeddingResponse, SippTextOptions, Usage};
use serde_json::{Map, Value};

/// The shared options a caller set, under their own names (what the first-party profile
/// and OpenAI-style APIs call them); f32s as the decimals written.
pub(crate) fn option_fields(o: &SippTextOptions) -> Map<String, Value> {
    match serde_json::to_value(o) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// `own` plus every shared option: the body fields an options bucket may not overwrite.
pub(crate) fn reserved(own: &[&'static str]) -> Vec<&'static str> {
    let mut names = own.to_vec();
    names.extend(crate::types::field_names::<SippTextOptions>().iter().filter(|n| !own.contains(n)));
    names
}

/// A JSON array of numbers as f32s.
pub(crate) fn floats(v: Option<&Value>) -> Option<Vec<f32>> {
    #[allow(clippy::cast_possible_truncation)] // embeddings are f32 on every API
    v?.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
}

/// A remote vector; `normalized` is measured unless the answer said.
pub(crate) fn embedding(values: Vec<f32>, usage: Option<Usage>, pooling: Option<PoolingType>) -> SippEmbeddingResponse {
    let normalized = super::wire::is_unit_length(&values);
    SippEmbeddingResponse { values, usage, pooling, normalized }
}
