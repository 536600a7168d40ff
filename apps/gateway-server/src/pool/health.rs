//! Active probes of pool members, every `health_check_seconds`: a local member is
//! healthy once loaded; a remote one when `GET {base_url}/models` answers 2xx within
//! two seconds (with its key, the way its provider sends it). Passive ejection
//! (`balancer`) catches what fails between probes.

use crate::config::{TargetConfig, TargetView};
use crate::secrets;
use crate::state::AppState;
use std::sync::Arc;
use std::time::Duration;

/// How one member is probed.
#[derive(Debug, Clone)]
pub enum Probe {
    Loaded(String),
    Http { url: String, headers: Vec<(String, String)> },
}

/// Each pool member's probe, with its key read through `lookup` (as at `serve`).
pub fn probes(
    targets: &[TargetConfig],
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Probe)>, secrets::SecretError> {
    let mut out = Vec::new();
    let members: std::collections::BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| match t.view() {
            TargetView::Pool(p) => Some(p.members.iter().map(String::as_str)),
            _ => None,
        })
        .flatten()
        .collect();
    for t in targets.iter().filter(|t| members.contains(t.name())) {
        let probe = match t.view() {
            TargetView::Local(l) => Probe::Loaded(l.name.clone()),
            TargetView::Pool(_) => continue,
            TargetView::Provider(kind, p) => {
                let spec = sipp::provider_spec(kind);
                let base = p.base_url.as_deref().or(spec.default_base_url).unwrap_or_default().trim_end_matches('/');
                let mut headers = Vec::new();
                if let Some(var) = p.key_env(kind) {
                    let key = secrets::read(var, lookup)?;
                    match kind.as_str() {
                        "anthropic" => headers.push(("x-api-key".to_string(), key.expose().to_string())),
                        _ => headers.push(("authorization".to_string(), format!("Bearer {}", key.expose()))),
                    }
                }
                for (name, value) in spec.default_headers {
                    headers.push(((*name).to_string(), (*value).to_string()));
                }
                Probe::Http { url: format!("{base}/models"), headers }
            }
        };
        out.push((t.name().to_string(), probe));
    }
    Ok(out)
}

/// Probe every pool's members forever (until the task is dropped).
pub async fn run(state: Arc<AppState>, probes: Vec<(String, Probe)>) {
    let every = state.pools.iter().map(|p| p.config.health_check_seconds).filter(|s| *s > 0).min();
    let Some(every) = every else { return };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "pool health probes are off: no HTTP client");
            return;
        }
    };
    let mut ticks = tokio::time::interval(Duration::from_secs(every));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for pool in state.pools.iter().filter(|p| p.config.health_check_seconds > 0) {
            for (i, m) in pool.members.iter().enumerate() {
                let Some((_, probe)) = probes.iter().find(|(n, _)| *n == m.name) else { continue };
                let healthy = match probe {
                    Probe::Loaded(name) => state.is_loaded(name),
                    Probe::Http { url, headers } => {
                        let mut r = client.get(url);
                        for (k, v) in headers {
                            r = r.header(k, v);
                        }
                        r.send().await.is_ok_and(|a| a.status().is_success())
                    }
                };
                pool.probed(i, healthy);
            }
        }
    }
}
