//! Target pools (`type = "pool"`): `config`, the choice among members (`balancer`) and
//! their probes (`health`); `Pools` holds every pool of the config and renders them in
//! `/metrics`.

pub mod balancer;
pub mod config;
pub mod health;

use crate::config::{GatewayConfig, TargetView};
use balancer::Pool;
use sipp::TextPrompt;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Pools(HashMap<String, Arc<Pool>>);

impl Pools {
    pub fn new(config: &GatewayConfig) -> Self {
        Self(
            config
                .targets
                .iter()
                .filter_map(|t| match t.view() {
                    TargetView::Pool(p) => Some((p.name.clone(), Arc::new(Pool::new(p.clone())))),
                    _ => None,
                })
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Pool>> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.0.values()
    }

    pub fn render(&self, out: &mut String) {
        if self.0.is_empty() {
            return;
        }
        let mut pools: Vec<&Arc<Pool>> = self.0.values().collect();
        pools.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let rows = |out: &mut String, name: &str, value: &dyn Fn(&Pool, usize) -> String| {
            for p in &pools {
                for (i, m) in p.members.iter().enumerate() {
                    let _ = writeln!(out, "{name}{{pool=\"{}\",member=\"{}\"}} {}", p.config.name, m.name, value(p, i));
                }
            }
        };
        head(
            out,
            "sipp_gateway_pool_member_up",
            "gauge",
            "Whether a pool member takes requests (healthy, not ejected).",
        );
        rows(out, "sipp_gateway_pool_member_up", &|p, i| u8::from(p.available(i)).to_string());
        head(
            out,
            "sipp_gateway_pool_member_outstanding",
            "gauge",
            "Requests running on a pool member through this replica.",
        );
        rows(out, "sipp_gateway_pool_member_outstanding", &|p, i| p.outstanding(i).to_string());
        head(
            out,
            "sipp_gateway_pool_ejections_total",
            "counter",
            "Times a pool member was ejected for failing in a row.",
        );
        rows(out, "sipp_gateway_pool_ejections_total", &|p, i| {
            p.members[i].ejections.load(Ordering::Relaxed).to_string()
        });
        head(out, "sipp_gateway_pool_picks_total", "counter", "A pool's first choices, by member and why.");
        for p in &pools {
            for m in &p.members {
                for (k, why) in ["affinity", "least_outstanding", "round_robin"].iter().enumerate() {
                    let n = m.picks[k].load(Ordering::Relaxed);
                    let _ = writeln!(
                        out,
                        "sipp_gateway_pool_picks_total{{pool=\"{}\",member=\"{}\",reason=\"{why}\"}} {n}",
                        p.config.name, m.name
                    );
                }
            }
        }
    }
}

/// The first `chars` characters of what a prompt's KV cache starts with: the raw prompt,
/// or each message's role and content in order (`None` when affinity is off).
pub fn prefix_key(prompt: &TextPrompt, chars: usize) -> Option<String> {
    if chars == 0 {
        return None;
    }
    let mut key = String::new();
    match prompt {
        TextPrompt::Raw(p) => key.extend(p.chars().take(chars)),
        TextPrompt::Messages(messages) => {
            for m in messages {
                let _ = write!(key, "{:?}\n{}\n", m.role, m.content);
                if key.chars().count() >= chars {
                    break;
                }
            }
            key = key.chars().take(chars).collect();
        }
    }
    Some(key)
}
