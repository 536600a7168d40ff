//! Which fields a request struct has, read from its serde derive instead of a hand-kept
//! list: a field added to an option bucket is at once refused where that bucket is not
//! accepted, reserved against option maps that would overwrite it, and so on.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The serialized names of `T`'s fields, in declaration order.
#[must_use]
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<T>()
}

/// The fields of `value` that are set: serialized, and neither `null` nor an empty list.
pub(crate) fn fields_set<T: Serialize + DeserializeOwned + Default + PartialEq>(value: &T) -> Vec<&'static str> {
    // Nearly every request sets none: skip serializing it (a proxied request's hot path).
    if *value == T::default() {
        return Vec::new();
    }
    let Ok(Value::Object(map)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    let set = |v: &Value| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty));
    field_names::<T>().iter().copied().filter(|n| map.get(*n).is_some_and(set)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LocalTextOptions, SippTextOptions};

    #[test]
    fn names_follow_the_struct_and_set_means_serialized_and_not_empty() {
        assert_eq!(field_names::<SippTextOptions>()[..2], ["max_tokens", "temperature"]);
        let o = SippTextOptions { seed: Some(1), stop: Vec::new(), ..Default::default() };
        assert_eq!(fields_set(&o), ["seed"]);
        let local = LocalTextOptions { grammar: Some("root ::= \"a\"".into()), ..Default::default() };
        assert_eq!(local.fields_set(), ["grammar"]);
    }
}
