//! Gateway endpoints (`kind: gateway`): the first-party profile over HTTP to a Sipp
//! gateway, which owns models, provider keys and policy. Only the target name, the URL
//! and the gateway credential live here.

use crate::error::{Result, SippError};
use crate::gateway_profile::{self as profile, event, typed_fields, DoneEvent, TokenEvent};
use crate::transport::body as helpers;
use crate::transport::{
    merge_options, Auth, Call, Fault, HttpTransport, RemoteEndpoint, StreamDecoder, StreamItem, Wire,
};
use crate::types::endpoint::{Endpoint, Operation};
use crate::types::{
    AuthenticationKind, EndpointKind, GatewayDescriptor, SippEmbedRequest, SippEmbeddingResponse, SippTextRequest,
    SippTextResponse, TextPrompt, Usage,
};
use reqwest::header::{HeaderName, AUTHORIZATION};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Build the endpoint `d` describes (checked here, before any request).
pub(crate) fn endpoint(id: &str, d: &GatewayDescriptor) -> Result<Arc<dyn Endpoint>> {
    if d.target.trim().is_empty() {
        return Err(SippError::InvalidConfig("gateway endpoints need a target".into()));
    }
    for (name, route) in [("query", &d.routes.query), ("chat", &d.routes.chat), ("embed", &d.routes.embed)] {
        if !route.starts_with('/') || route.contains(['?', '#', ' ']) {
            return Err(SippError::InvalidConfig(format!("routes.{name} `{route}` must be a path starting with /")));
        }
    }
    // Checked now so a bad bucket fails at add, not on the first request.
    merge_options(&mut Map::new(), &d.protocol_options, typed_fields(), "protocol_options").map_err(|e| match e {
        SippError::InvalidRequest(why) => SippError::InvalidConfig(why),
        other => other,
    })?;
    // A Sipp gateway echoes and logs `x-request-id`: one id across both hops.
    let http = HttpTransport::new(id, &d.base_url, &d.static_headers, auth(d)?, d.timeouts, d.retry)?
        .with_correlation_header(HeaderName::from_static("x-request-id"));
    Ok(Arc::new(RemoteEndpoint::new(GatewayWire { d: d.clone() }, http)?))
}

fn auth(d: &GatewayDescriptor) -> Result<Auth> {
    let a = &d.authentication;
    let name = match a.kind {
        AuthenticationKind::None => {
            if a.value.is_some() || a.value_provider.is_some() {
                return Err(SippError::InvalidConfig(
                    "authentication kind `none` takes no value; use bearer or header".into(),
                ));
            }
            return Ok(Auth::None);
        }
        AuthenticationKind::Bearer => AUTHORIZATION,
        AuthenticationKind::Header => {
            let name = a
                .header_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| SippError::InvalidConfig("authentication kind `header` needs header_name".into()))?;
            crate::transport::header_name(name)?
        }
    };
    let bearer = a.kind == AuthenticationKind::Bearer;
    match (&a.value, &a.value_provider) {
        (Some(value), None) if !value.is_empty() => Ok(Auth::Static { name, value: value.clone(), bearer }),
        (None, Some(provider)) => Ok(Auth::Provided { name, bearer, provider: provider.clone() }),
        (Some(_), Some(_)) => {
            Err(SippError::InvalidConfig("set authentication value or value_provider, not both".into()))
        }
        _ => Err(SippError::InvalidConfig(format!(
            "authentication kind `{}` needs a value or a value_provider",
            if bearer { "bearer" } else { "header" }
        ))),
    }
}

#[derive(Debug)]
struct GatewayWire {
    d: GatewayDescriptor,
}

impl GatewayWire {
    /// `protocol_options`, then the request's `endpoint_options` over them.
    fn extra(&self, endpoint_options: &Map<String, Value>) -> Result<Map<String, Value>> {
        let mut extra = self.d.protocol_options.clone();
        merge_options(&mut extra, endpoint_options, typed_fields(), "endpoint_options")?;
        Ok(extra)
    }
}

impl Wire for GatewayWire {
    fn kind(&self) -> EndpointKind {
        EndpointKind::Gateway
    }

    /// The gateway knows what its target can do; it answers with an error if not.
    fn supports(&self, _op: Operation) -> bool {
        true
    }

    fn text_call(&self, request: &SippTextRequest) -> Result<Call> {
        request.options.validate()?;
        let (path, prompt, messages) = match &request.prompt {
            TextPrompt::Raw(p) => (&self.d.routes.query, Some(p.clone()), None),
            TextPrompt::Messages(m) => (&self.d.routes.chat, None, Some(m.clone())),
        };
        let body = profile::TextRequestBody {
            model: self.d.target.clone(),
            prompt,
            messages,
            options: request.options.clone(),
            stream: request.emit_tokens,
            extra: self.extra(&request.endpoint_options)?,
        };
        let body = serde_json::to_value(body).map_err(|e| SippError::InvalidRequest(e.to_string()))?;
        Ok(Call { path: path.clone(), body, stream: request.emit_tokens })
    }

    fn embed_call(&self, request: &SippEmbedRequest) -> Result<Call> {
        let body = profile::EmbedRequestBody {
            model: self.d.target.clone(),
            input: request.input.clone(),
            extra: self.extra(&request.endpoint_options)?,
        };
        let body = serde_json::to_value(body).map_err(|e| SippError::InvalidRequest(e.to_string()))?;
        Ok(Call { path: self.d.routes.embed.clone(), body, stream: false })
    }

    fn text_response(&self, body: &Value) -> Result<SippTextResponse, Fault> {
        let r: profile::TextResponseBody = parse(body)?;
        Ok(SippTextResponse { text: r.text, finish_reason: r.finish_reason, usage: r.usage, local_stats: None })
    }

    fn embed_response(&self, body: &Value) -> Result<SippEmbeddingResponse, Fault> {
        let r: profile::EmbedResponseBody = parse(body)?;
        Ok(helpers::embedding(r.embedding, r.usage, r.pooling))
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(ProfileDecoder)
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Fault> {
    serde_json::from_value(v.clone())
        .map_err(|e| Fault::protocol(format!("not a gateway profile answer ({e}): {}", crate::transport::quote(v))))
}

struct ProfileDecoder;

impl StreamDecoder for ProfileDecoder {
    fn decode(&mut self, name: &str, data: &str) -> Result<Vec<StreamItem>, Fault> {
        let v = crate::transport::parse_data(data)?;
        Ok(match name {
            event::TOKEN => vec![StreamItem::Text(parse::<TokenEvent>(&v)?.text)],
            event::USAGE => vec![StreamItem::Usage(parse::<Usage>(&v)?)],
            event::DONE => vec![StreamItem::Finish(parse::<DoneEvent>(&v)?.finish_reason), StreamItem::End],
            event::ERROR => return Err(Fault::from_error_object(None, &v)),
            // Comments and keep-alives never reach here; unknown names are future events.
            _ => Vec::new(),
        })
    }
}
