//! `type = "pool"`: a target whose members are other configured targets (sipp-gateways,
//! llama-server, vLLM or any OpenAI-compatible server, local models), balanced by
//! outstanding requests, with prefix affinity, active health checks and passive ejection.

use crate::traffic::TrafficLimits;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// The member with the fewest requests running through this replica.
    #[default]
    LeastOutstanding,
    /// Members in turn (the baseline prefix affinity is measured against).
    RoundRobin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolTarget {
    pub name: String,
    /// Names of configured (non-pool) targets.
    pub members: Vec<String>,
    #[serde(default)]
    pub balance: Balance,
    /// Requests whose prompts agree on their first this-many characters go to the same
    /// member (rendezvous hashing, the same choice on every replica), so a shared system
    /// prompt finds its KV cache warm. 0 turns it off.
    #[serde(default = "default_affinity_chars")]
    pub affinity_prefix_chars: usize,
    /// The affine member is passed over (for the least loaded) while it runs more than
    /// this many requests beyond the least loaded one.
    #[serde(default = "default_affinity_slack")]
    pub affinity_max_extra: u32,
    /// A member failing this many requests in a row (connection, 503, timeout) is
    /// ejected for `eject_seconds`.
    #[serde(default = "default_eject_after")]
    pub eject_after_failures: u32,
    #[serde(default = "default_eject_seconds")]
    pub eject_seconds: u64,
    /// Every this-many seconds each member is probed (a remote one with `GET
    /// {base_url}/models`, a local one by being loaded); 0 turns probes off.
    #[serde(default = "default_health_seconds")]
    pub health_check_seconds: u64,
    #[serde(default)]
    pub limits: TrafficLimits,
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

fn default_affinity_chars() -> usize {
    1024
}

fn default_affinity_slack() -> u32 {
    4
}

fn default_eject_after() -> u32 {
    3
}

fn default_eject_seconds() -> u64 {
    10
}

fn default_health_seconds() -> u64 {
    5
}

#[cfg(test)]
mod tests {
    #[test]
    fn pools_and_fallbacks_name_configured_targets() {
        let text = crate::config::tests::SPEC_EXAMPLE.to_string()
            + r#"
[[targets]]
name = "p"
type = "pool"
members = ["local", "ghost", "local", "q"]
fallbacks = ["p", "nowhere"]
eject_after_failures = 0
[[targets]]
name = "q"
type = "pool"
members = []
"#;
        let problems: Vec<String> =
            crate::config::GatewayConfig::parse(&text).unwrap().validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "targets[1].fallbacks[0]: a target cannot be its own fallback",
                "targets[1].fallbacks[1]: `nowhere` is not a configured target",
                "targets[1].members[1]: `ghost` is not a configured target",
                "targets[1].members[2]: `local` is listed twice",
                "targets[1].members[3]: `q` is a pool; members are local or provider targets",
                "targets[1].eject_after_failures: must be greater than zero",
                "targets[2].members: a pool needs at least one member",
            ]
        );
        let good = crate::config::tests::SPEC_EXAMPLE.to_string()
            + "[[targets]]\nname = \"p\"\ntype = \"pool\"\nmembers = [\"local\"]\nbalance = \"round_robin\"\n";
        let c = crate::config::GatewayConfig::parse(&good).unwrap();
        assert_eq!(c.validate(), []);
        assert_eq!(c.targets[1].type_name(), "pool");
        let typo = good.replace("balance", "balanse");
        assert!(crate::config::GatewayConfig::parse(&typo).unwrap_err().message.contains("balanse"));
    }
}
