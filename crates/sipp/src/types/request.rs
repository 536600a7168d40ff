//! The requests of `query`, `chat` and `embed`. A text request is one thing whose prompt
//! is raw text or role messages; `SippQueryRequest` and `SippChatRequest` are the spec's
//! spellings of it (a `prompt` string, a `messages` list) and convert into it, so the
//! envelope below is written once and every layer after the client takes
//! [`SippTextRequest`] whole.

use super::chat::ChatMessage;
use super::descriptor::EndpointRef;
use super::options::{LocalEmbedOptions, LocalTextOptions, SippTextOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a text request generates from. On the wire: a string, or a list of messages.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum TextPrompt {
    /// `query`: used as given, no chat template.
    Raw(String),
    /// `chat`: rendered by the endpoint (the model's template, or the remote API's roles).
    Messages(Vec<ChatMessage>),
}

impl TextPrompt {
    /// The raw prompt of a `query`.
    #[must_use]
    pub fn as_raw(&self) -> Option<&str> {
        match self {
            Self::Raw(p) => Some(p),
            Self::Messages(_) => None,
        }
    }

    /// The messages of a `chat`.
    #[must_use]
    pub fn messages(&self) -> Option<&[ChatMessage]> {
        match self {
            Self::Raw(_) => None,
            Self::Messages(m) => Some(m),
        }
    }
}

/// By hand rather than `untagged`: a bad message says what is wrong with it (`unknown
/// variant `tool``), not only that the prompt matched neither form.
impl<'de> Deserialize<'de> for TextPrompt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TextPrompt;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a prompt string or a list of chat messages")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TextPrompt, E> {
                Ok(TextPrompt::Raw(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TextPrompt, E> {
                Ok(TextPrompt::Raw(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<TextPrompt, A::Error> {
                let mut messages = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(m) = seq.next_element::<ChatMessage>()? {
                    messages.push(m);
                }
                Ok(TextPrompt::Messages(messages))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Default for TextPrompt {
    fn default() -> Self {
        Self::Raw(String::new())
    }
}

impl From<String> for TextPrompt {
    fn from(prompt: String) -> Self {
        Self::Raw(prompt)
    }
}

impl From<&str> for TextPrompt {
    fn from(prompt: &str) -> Self {
        Self::Raw(prompt.to_string())
    }
}

impl From<Vec<ChatMessage>> for TextPrompt {
    fn from(messages: Vec<ChatMessage>) -> Self {
        Self::Messages(messages)
    }
}

/// The envelope every text request carries, around its prompt field.
macro_rules! text_request {
    ($(#[$doc:meta])* $name:ident { $(#[$prompt_doc:meta])* $prompt:ident: $ty:ty }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub endpoint: Option<EndpointRef>,
            $(#[$prompt_doc])*
            pub $prompt: $ty,
            pub options: SippTextOptions,
            pub local: LocalTextOptions,
            /// For gateway endpoints: their implementation decides what these mean.
            pub endpoint_options: Map<String, Value>,
            /// For provider endpoints: extra body fields of the provider's API.
            pub provider_options: Map<String, Value>,
            /// Correlates this request upstream: a gateway endpoint sends it as
            /// `x-request-id`, a provider endpoint under its descriptor's
            /// `correlation_header`. Local endpoints have nothing upstream and ignore it.
            pub request_id: Option<String>,
            /// Stream `TokenBatch` values through the run handle.
            pub emit_tokens: bool,
        }
    };
    (sugar $name:ident($prompt:ident)) => {
        impl From<$name> for SippTextRequest {
            fn from(r: $name) -> Self {
                SippTextRequest {
                    endpoint: r.endpoint,
                    prompt: r.$prompt.into(),
                    options: r.options,
                    local: r.local,
                    endpoint_options: r.endpoint_options,
                    provider_options: r.provider_options,
                    request_id: r.request_id,
                    emit_tokens: r.emit_tokens,
                }
            }
        }
    };
}

text_request! {
    /// A text request of either form: what the client, the endpoints, the gateway pipeline
    /// and the codecs pass along.
    SippTextRequest {
        /// A string for `query`, a list of messages for `chat`.
        prompt: TextPrompt
    }
}

text_request! {
    /// `query`: a raw prompt, no chat template.
    SippQueryRequest { prompt: String }
}

text_request! {
    /// `chat`: role messages rendered by the endpoint.
    SippChatRequest { messages: Vec<ChatMessage> }
}

text_request!(sugar SippQueryRequest(prompt));
text_request!(sugar SippChatRequest(messages));

/// `embed`: one vector for one input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SippEmbedRequest {
    pub endpoint: Option<EndpointRef>,
    pub input: String,
    pub local: LocalEmbedOptions,
    pub endpoint_options: Map<String, Value>,
    pub provider_options: Map<String, Value>,
    /// As for text requests.
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatRole;

    #[test]
    fn query_and_chat_are_the_text_request_with_their_prompt() {
        let q: SippTextRequest =
            SippQueryRequest { prompt: "p".into(), emit_tokens: true, ..Default::default() }.into();
        assert_eq!((q.prompt, q.emit_tokens), (TextPrompt::Raw("p".into()), true));
        let m = vec![ChatMessage::new(ChatRole::User, "hi")];
        let c: SippTextRequest = SippChatRequest { messages: m.clone(), ..Default::default() }.into();
        assert_eq!(c.prompt, TextPrompt::Messages(m));
        // On the wire the prompt is a string or a list of messages.
        let r: SippTextRequest =
            serde_json::from_str(r#"{"prompt": [{"role": "user", "content": "hi"}], "request_id": "r"}"#).unwrap();
        assert!(matches!(r.prompt, TextPrompt::Messages(_)));
        let e = serde_json::from_str::<SippTextRequest>(r#"{"prompt": [{"role": "tool", "content": "x"}]}"#);
        assert!(e.unwrap_err().to_string().contains("unknown variant `tool`"));
        let e = serde_json::from_str::<SippTextRequest>(r#"{"prompt": 3}"#).unwrap_err();
        assert!(e.to_string().contains("a prompt string or a list of chat messages"), "{e}");
        assert!(serde_json::from_str::<SippTextRequest>(r#"{"promt": "x"}"#).is_err());
    }
}
