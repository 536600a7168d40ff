//! Credentials (API keys, gateway tokens, secret header values). They deserialize from
//! descriptors like any string but never print: `Debug`, `Display` and `Serialize` all
//! write a placeholder, and error text that might echo one is scrubbed with [`scrub`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a secret prints as.
pub const REDACTED: &str = "[redacted]";

/// A credential value. Read it only where it goes on the wire ([`Secret::expose`]).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serializing a descriptor (logs, diagnostics) must not leak the value.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// A string on the wire (it deserializes from one).
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(g)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// `text` with every occurrence of the given secrets replaced (upstream error bodies
/// sometimes quote the key they were sent).
#[must_use]
pub fn scrub<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_string();
    for s in secrets {
        // Very short values would redact ordinary words; real credentials are longer.
        if s.len() >= 4 {
            out = out.replace(s, REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("sk-live-123456");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        let back: Secret = serde_json::from_str("\"sk-live-123456\"").unwrap();
        assert_eq!(back.expose(), "sk-live-123456");
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let text = "Incorrect API key provided: sk-live-123456 (sk-live-123456)";
        assert_eq!(scrub(text, ["sk-live-123456"]), "Incorrect API key provided: [redacted] ([redacted])");
        assert_eq!(scrub("a b", ["a"]), "a b");
    }
}
