//! `[[targets]]` as Sipp endpoints: a local target is a `LocalModelDescriptor`, a
//! provider target a `ProviderDescriptor` with the key read from its env variable. The
//! gateway's client registers each under its public name.

use crate::config::{Stats, TargetConfig, TargetView};
use crate::secrets::{self, SecretError};
use sipp::{EndpointDescriptor, LocalModelDescriptor, ProviderDescriptor, StaticHeader, TimeoutPolicy};

/// What a target becomes, with secrets resolved (`None`: a pool, which is its members).
/// `upstream_timeout_seconds` (`[limits]`) is the deadline of a provider target that
/// sets no `timeout_seconds`.
pub fn descriptor(
    target: &TargetConfig,
    lookup: &impl Fn(&str) -> Option<String>,
    upstream_timeout_seconds: u64,
) -> Result<Option<EndpointDescriptor>, SecretError> {
    let timeouts = |seconds: Option<u64>| TimeoutPolicy {
        request_ms: Some(seconds.unwrap_or(upstream_timeout_seconds).saturating_mul(1000)),
        ..TimeoutPolicy::default()
    };
    let (kind, t) = match target.view() {
        TargetView::Provider(kind, t) => (kind, t),
        TargetView::Pool(_) => return Ok(None),
        TargetView::Local(l) => {
            let mut config = l.runtime.clone();
            config.observability.runtime_metrics = l.stats != Stats::Off;
            config.observability.backend_profiling = l.stats == Stats::Profile;
            return Ok(Some(LocalModelDescriptor { model_path: l.model.clone(), config, backend: l.backend }.into()));
        }
    };
    let mut d = ProviderDescriptor::new(kind, &t.model);
    // Validation made sure the key's variable is named; reading it may still fail.
    if let Some(var) = t.key_env(kind) {
        d = d.with_api_key(secrets::read(var, lookup)?);
    }
    d.base_url.clone_from(&t.base_url);
    d.timeouts = timeouts(t.timeout_seconds);
    d.correlation_header.clone_from(&t.correlation_header);
    if let (Some(v), Some((header, _))) = (&t.version, sipp::provider_spec(kind).default_headers.first()) {
        d.static_headers.push(StaticHeader::new(*header, v.as_str()));
    }
    Ok(Some(d.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    /// A provider target without `timeout_seconds` gets `limits.upstream_timeout_seconds`,
    /// not the library's 10 minutes: an upstream that never answers frees its slot.
    #[test]
    fn provider_targets_have_a_deadline_by_default() {
        let text = r#"
public_bind = "127.0.0.1:1"
management_bind = "127.0.0.1:2"
max_request_bytes = 1024
admin_password_env = "A"
[security.client_ip]
source = "peer"
[security.rate_limit]
enabled = false
requests_per_minute = 1
burst = 1
[[targets]]
name = "p"
type = "openai_compatible"
model = "m"
base_url = "http://127.0.0.1:3/v1"
token_env = "K"
[[targets]]
name = "q"
type = "openai_compatible"
model = "m"
base_url = "http://127.0.0.1:3/v1"
token_env = "K"
timeout_seconds = 7
"#;
        let c = GatewayConfig::parse(text).unwrap();
        let lookup = |_: &str| Some("key".to_string());
        let deadline = |t: &TargetConfig| match descriptor(t, &lookup, c.limits.upstream_timeout_seconds).unwrap() {
            Some(EndpointDescriptor::Provider(p)) => p.timeouts.request_ms,
            other => panic!("{other:?}"),
        };
        assert_eq!(deadline(&c.targets[0]), Some(120_000));
        assert_eq!(deadline(&c.targets[1]), Some(7_000));
    }
}
