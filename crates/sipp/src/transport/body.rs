//! Small pieces every adapter's bodies and answers need.

use crate::error::{Result, SippError};
use crate::types::{PoolingType, SippEmbeddingResponse, SippTextOptions, Usage};
use serde::Serialize;
use serde_json::{Map, Value};

/// The shared text options, checked the same way for every kind.
pub(crate) fn check_text_options(o: &SippTextOptions) -> Result<()> {
    o.validate()?;
    if o.stop.iter().any(String::is_empty) {
        return Err(SippError::InvalidRequest("stop strings must not be empty".into()));
    }
    Ok(())
}

/// Insert `key` when the option is set.
pub(crate) fn put<T: Serialize>(body: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value.and_then(|v| serde_json::to_value(v).ok()) {
        body.insert(key.to_string(), v);
    }
}

/// Insert an f32 option as the decimal the caller wrote.
pub(crate) fn put_f32(body: &mut Map<String, Value>, key: &str, value: Option<f32>) {
    put(body, key, value.map(crate::types::options::f32_as_decimal));
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
