//! `[[targets]]` as Sipp endpoints: a local target is a `LocalModelDescriptor`, a
//! provider target a `ProviderDescriptor` with the key read from its env variable. The
//! gateway's client registers each under its public name.

use crate::config::{Stats, TargetConfig};
use crate::secrets::{self, SecretError};
use sipp::{EndpointDescriptor, LocalModelDescriptor, ProviderDescriptor, ProviderKind, StaticHeader, TimeoutPolicy};

/// What a target becomes, with secrets resolved.
pub fn descriptor(
    target: &TargetConfig,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<EndpointDescriptor, SecretError> {
    let timeouts = |seconds: Option<u64>| TimeoutPolicy {
        request_ms: seconds.map(|s| s.saturating_mul(1000)),
        ..TimeoutPolicy::default()
    };
    Ok(match target {
        TargetConfig::Local(l) => {
            let mut config = l.runtime.clone();
            config.observability.runtime_metrics = l.stats != Stats::Off;
            config.observability.backend_profiling = l.stats == Stats::Profile;
            LocalModelDescriptor { model_path: l.model.clone(), config, backend: l.backend }.into()
        }
        TargetConfig::Openai(o) => {
            let mut d = ProviderDescriptor::new(ProviderKind::Openai, &o.model)
                .with_api_key(secrets::read(&o.api_key_env, lookup)?);
            d.base_url.clone_from(&o.base_url);
            d.timeouts = timeouts(o.timeout_seconds);
            d.into()
        }
        TargetConfig::OpenaiCompatible(c) => {
            let mut d = ProviderDescriptor::new(ProviderKind::OpenaiCompatible, &c.model)
                .with_api_key(secrets::read(&c.token_env, lookup)?)
                .with_base_url(&c.base_url);
            d.timeouts = timeouts(c.timeout_seconds);
            d.correlation_header.clone_from(&c.correlation_header);
            d.into()
        }
        TargetConfig::Anthropic(a) => {
            let mut d = ProviderDescriptor::new(ProviderKind::Anthropic, &a.model)
                .with_api_key(secrets::read(&a.api_key_env, lookup)?);
            d.base_url.clone_from(&a.base_url);
            d.timeouts = timeouts(a.timeout_seconds);
            if let Some(v) = &a.version {
                d.static_headers.push(StaticHeader::new("anthropic-version", v.as_str()));
            }
            d.into()
        }
    })
}
