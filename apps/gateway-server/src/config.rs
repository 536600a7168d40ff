//! The gateway's TOML file (spec: Gateway Configuration), parsed with unknown keys
//! rejected, then checked as a whole: `validate` reports every problem with its field
//! path, reading no environment variable, loading no model and binding nothing.

use crate::limits::LimitsConfig;
pub use crate::pool::config::PoolTarget;
use crate::traffic::{StateConfig, TrafficLimits};
use ipnet::IpNet;
use serde::Deserialize;
use sipp::engine::NativeRuntimeConfig;
use sipp::{Backend, ProviderKind};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub public_bind: String,
    pub management_bind: String,
    pub max_request_bytes: u64,
    /// Unset: no application-wide admission limit.
    #[serde(default)]
    pub max_concurrent_requests: Option<u32>,
    /// Empty: no CORS layer.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub admin_password_env: String,
    pub security: SecurityConfig,
    #[serde(default)]
    pub routes: RoutesConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Where traffic limits are counted when several replicas share them (absent: in
    /// this process's memory).
    #[serde(default)]
    pub state: Option<StateConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    pub client_ip: ClientIpConfig,
    pub rate_limit: RateLimitConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientIpConfig {
    pub source: ClientIpSource,
    /// Proxies allowed to supply forwarded headers; others' headers are ignored.
    #[serde(default)]
    pub trusted_proxy_cidrs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientIpSource {
    Peer,
    XForwardedFor,
    XRealIp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub requests_per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutesConfig {
    pub query: String,
    pub chat: String,
    pub embed: String,
    pub index: String,
    pub health: String,
    pub readiness: String,
    pub metrics: String,
    pub admin: String,
    /// Prefix of the OpenAI-compatible routes (`{openai}/chat/completions`, …; beyond the
    /// spec); `""` turns them off.
    pub openai: String,
}

impl RoutesConfig {
    /// The OpenAI-compatible routes (chat, completions, embeddings, models), if enabled.
    pub fn openai_routes(&self) -> Option<[String; 4]> {
        let p = self.openai.as_str();
        (!p.is_empty())
            .then(|| ["/chat/completions", "/completions", "/embeddings", "/models"].map(|r| format!("{p}{r}")))
    }
}

impl Default for RoutesConfig {
    fn default() -> Self {
        Self {
            query: "/v1/query".into(),
            chat: "/v1/chat".into(),
            embed: "/v1/embed".into(),
            index: "/".into(),
            health: "/healthz".into(),
            readiness: "/readyz".into(),
            metrics: "/metrics".into(),
            admin: "/admin".into(),
            openai: "/v1".into(),
        }
    }
}

/// One bearer token (read from `env` at `serve`) and the targets its caller may use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub env: String,
    pub caller: String,
    /// Empty: every configured target.
    #[serde(default)]
    pub targets: Vec<String>,
    /// The caller's limits (every token of one caller shares them; unset: unlimited).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
    #[serde(default)]
    pub max_concurrent_streams: Option<u32>,
}

impl TokenConfig {
    pub fn limits(&self) -> TrafficLimits {
        TrafficLimits {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
            max_concurrent_streams: self.max_concurrent_streams,
        }
    }
}

/// `[[targets]]`: `type = "local"` or a provider's name. The provider variants come from
/// the core's one list of providers, so a new provider needs nothing here; serde's own tag
/// handling keeps its exact error positions (`unknown field` at the key that is wrong).
macro_rules! target_config {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum TargetConfig {
            /// Boxed: a local target carries the whole runtime config.
            Local(Box<LocalTarget>),
            Pool(PoolTarget),
            $($variant(ProviderTarget),)*
        }

        impl TargetConfig {
            pub fn view(&self) -> TargetView<'_> {
                match self {
                    Self::Local(l) => TargetView::Local(l),
                    Self::Pool(p) => TargetView::Pool(p),
                    $(Self::$variant(t) => TargetView::Provider(ProviderKind::$variant, t),)*
                }
            }
        }
    };
}

sipp::with_providers!(target_config);

/// A target as what it is: local, or a provider of some kind with the shared fields.
#[derive(Debug, Clone, Copy)]
pub enum TargetView<'a> {
    Local(&'a LocalTarget),
    Pool(&'a PoolTarget),
    Provider(ProviderKind, &'a ProviderTarget),
}

impl TargetConfig {
    pub fn name(&self) -> &str {
        match self.view() {
            TargetView::Local(l) => &l.name,
            TargetView::Pool(p) => &p.name,
            TargetView::Provider(_, t) => &t.name,
        }
    }

    /// `fallbacks`: where a request goes, in order, when this target cannot start it.
    pub fn fallbacks(&self) -> &[String] {
        match self.view() {
            TargetView::Local(l) => &l.fallbacks,
            TargetView::Pool(p) => &p.fallbacks,
            TargetView::Provider(_, t) => &t.fallbacks,
        }
    }

    /// `[targets.limits]`.
    pub fn limits(&self) -> TrafficLimits {
        match self.view() {
            TargetView::Local(l) => l.limits,
            TargetView::Pool(p) => p.limits,
            TargetView::Provider(_, t) => t.limits,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.view() {
            TargetView::Local(_) => "local",
            TargetView::Pool(_) => "pool",
            TargetView::Provider(kind, _) => kind.as_str(),
        }
    }
}

/// Runtime metrics of a local target: `basic` turns on `observability.runtime_metrics`,
/// `profile` also llama.cpp's backend profiling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stats {
    Off,
    #[default]
    Basic,
    Profile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalTarget {
    pub name: String,
    /// Relative paths resolve from the working directory.
    pub model: PathBuf,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub stats: Stats,
    #[serde(default)]
    pub runtime: NativeRuntimeConfig,
    #[serde(default)]
    pub limits: TrafficLimits,
    /// Targets that take a request this one cannot start, in order.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

/// A provider target. The fields are the spec's for every provider; which of them a
/// provider needs or takes comes from its `sipp::ProviderSpec` (validated below), and the
/// target becomes a `ProviderDescriptor` (`targets.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderTarget {
    pub name: String,
    pub model: String,
    /// Required where the provider has no default (`openai_compatible`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The env variable with the key: `api_key_env`, or `token_env` for
    /// `openai_compatible` (the record's `gateway_key_field` says which).
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    /// Header that carries the gateway's request id upstream.
    #[serde(default)]
    pub correlation_header: Option<String>,
    /// The API version header of providers that have one (`anthropic-version`; default
    /// 2023-06-01).
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub limits: TrafficLimits,
    /// Targets that take a request this one cannot start, in order.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

impl ProviderTarget {
    /// The key's env variable under the field name this provider uses.
    pub fn key_env(&self, kind: ProviderKind) -> Option<&str> {
        match sipp::provider_spec(kind).gateway_key_field {
            "token_env" => self.token_env.as_deref(),
            _ => self.api_key_env.as_deref(),
        }
    }
}

/// One thing wrong with a config, at a field path such as `targets[1].base_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl GatewayConfig {
    /// Parse a TOML document (syntax, types and unknown keys; the error names the place).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        toml::from_str(text)
            .map_err(|e| Problem { path: "(toml)".into(), message: e.to_string().trim_end().to_string() })
    }

    /// Read and parse a config file.
    pub fn load(path: &Path) -> Result<Self, Problem> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Problem { path: path.display().to_string(), message: format!("cannot read: {e}") })?;
        Self::parse(&text)
    }

    /// Every semantic problem, in file order. Empty means the config can be served.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Problems::default();
        let public = p.socket("public_bind", &self.public_bind);
        let management = p.socket("management_bind", &self.management_bind);
        if public.is_some() && public == management {
            p.add("management_bind", "must differ from public_bind");
        }
        if self.max_request_bytes == 0 {
            p.add("max_request_bytes", "must be greater than zero");
        }
        if self.max_concurrent_requests == Some(0) {
            p.add("max_concurrent_requests", "must be greater than zero (omit it for no limit)");
        }
        for (i, origin) in self.allowed_origins.iter().enumerate() {
            check_origin(&mut p, &format!("allowed_origins[{i}]"), origin);
        }
        p.env_name("admin_password_env", &self.admin_password_env);
        self.validate_security(&mut p);
        for (path, message) in self.limits.problems() {
            p.add(&path, &message);
        }
        self.validate_routes(&mut p);
        let names = self.validate_targets(&mut p);
        self.validate_fallbacks(&mut p, &names);
        self.validate_pools(&mut p);
        self.validate_tokens(&mut p, &names);
        if let Some(state) = &self.state {
            for (field, message) in state.problems() {
                p.add(&format!("state.{field}"), &message);
            }
            if let Some(env) = &state.redis_password_env {
                p.env_name("state.redis_password_env", env);
            }
        }
        p.0
    }

    fn validate_security(&self, p: &mut Problems) {
        for (i, cidr) in self.security.client_ip.trusted_proxy_cidrs.iter().enumerate() {
            if cidr.parse::<IpNet>().is_err() {
                p.add(
                    &format!("security.client_ip.trusted_proxy_cidrs[{i}]"),
                    &format!("`{cidr}` is not a CIDR (e.g. 10.0.0.0/8)"),
                );
            }
        }
        let r = &self.security.rate_limit;
        if r.enabled && r.requests_per_minute == 0 {
            p.add("security.rate_limit.requests_per_minute", "must be greater than zero when enabled");
        }
        if r.enabled && r.burst == 0 {
            p.add("security.rate_limit.burst", "must be greater than zero when enabled");
        }
    }

    fn validate_routes(&self, p: &mut Problems) {
        let r = &self.routes;
        let mut public = vec![("query", &r.query), ("chat", &r.chat), ("embed", &r.embed)];
        let openai = r.openai_routes();
        let prefix_ok = r.openai.is_empty() || (r.openai.starts_with('/') && !r.openai.ends_with('/'));
        if !prefix_ok {
            p.add("routes.openai", &format!("`{}` must be \"\" (off) or a path like /v1 (no trailing /)", r.openai));
        } else if let Some(routes) = &openai {
            // The derived routes must not collide with the profile's own.
            public.extend(routes.iter().map(|route| ("openai", route)));
        }
        let management = [
            ("index", &r.index),
            ("health", &r.health),
            ("readiness", &r.readiness),
            ("metrics", &r.metrics),
            ("admin", &r.admin),
        ];
        for group in [&public[..], &management[..]] {
            let mut seen = HashSet::new();
            for (name, route) in group {
                let path = format!("routes.{name}");
                if !route.starts_with('/') {
                    p.add(&path, &format!("`{route}` must be an absolute path starting with /"));
                } else if route.contains(['?', '#']) {
                    p.add(&path, &format!("`{route}` must not contain a query string or fragment"));
                } else if !seen.insert(route.as_str()) {
                    p.add(&path, &format!("`{route}` is already used by another route of the same listener"));
                }
            }
        }
    }

    fn validate_targets(&self, p: &mut Problems) -> HashSet<String> {
        let mut names = HashSet::new();
        if self.targets.is_empty() {
            p.add("targets", "no [[targets]]: a gateway needs at least one");
        }
        for (i, t) in self.targets.iter().enumerate() {
            let at = |field: &str| format!("targets[{i}].{field}");
            let name = t.name();
            if name.trim().is_empty() {
                p.add(&at("name"), "must not be empty");
            } else if !names.insert(name.to_string()) {
                p.add(&at("name"), &format!("`{name}` names another target too"));
            }
            for (field, message) in t.limits().problems() {
                p.add(&at(&format!("limits.{field}")), &message);
            }
            match t.view() {
                TargetView::Local(l) => {
                    if l.model.as_os_str().is_empty() {
                        p.add(&at("model"), "must be the path of a GGUF file");
                    }
                }
                TargetView::Provider(kind, provider) => validate_provider(p, &at, kind, provider),
                TargetView::Pool(_) => {}
            }
        }
        names
    }

    fn validate_fallbacks(&self, p: &mut Problems, names: &HashSet<String>) {
        for (i, t) in self.targets.iter().enumerate() {
            let mut seen = HashSet::new();
            for (j, f) in t.fallbacks().iter().enumerate() {
                let at = format!("targets[{i}].fallbacks[{j}]");
                if f == t.name() {
                    p.add(&at, "a target cannot be its own fallback");
                } else if !names.contains(f) {
                    p.add(&at, &format!("`{f}` is not a configured target"));
                } else if !seen.insert(f.as_str()) {
                    p.add(&at, &format!("`{f}` is listed twice"));
                }
            }
        }
    }

    fn validate_pools(&self, p: &mut Problems) {
        for (i, t) in self.targets.iter().enumerate() {
            let TargetView::Pool(pool) = t.view() else { continue };
            if pool.members.is_empty() {
                p.add(&format!("targets[{i}].members"), "a pool needs at least one member");
            }
            let mut seen = HashSet::new();
            for (j, m) in pool.members.iter().enumerate() {
                let at = format!("targets[{i}].members[{j}]");
                match self.targets.iter().find(|t| t.name() == m) {
                    None => p.add(&at, &format!("`{m}` is not a configured target")),
                    Some(t) if matches!(t.view(), TargetView::Pool(_)) => {
                        p.add(&at, &format!("`{m}` is a pool; members are local or provider targets"));
                    }
                    Some(_) if !seen.insert(m.as_str()) => p.add(&at, &format!("`{m}` is listed twice")),
                    Some(_) => {}
                }
            }
            if pool.eject_after_failures == 0 {
                p.add(&format!("targets[{i}].eject_after_failures"), "must be greater than zero");
            }
        }
    }

    fn validate_tokens(&self, p: &mut Problems, names: &HashSet<String>) {
        let mut envs = HashSet::new();
        let mut limits = std::collections::HashMap::new();
        for (i, t) in self.tokens.iter().enumerate() {
            for (field, message) in t.limits().problems() {
                p.add(&format!("tokens[{i}].{field}"), &message);
            }
            // Limits belong to the caller: every token of one caller must say the same.
            match limits.entry(t.caller.as_str()) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((i, t.limits()));
                }
                std::collections::hash_map::Entry::Occupied(o) if o.get().1 != t.limits() => {
                    let first = o.get().0;
                    p.add(
                        &format!("tokens[{i}]"),
                        &format!("caller `{}` has other limits in tokens[{first}]; a caller's tokens share one set of limits", t.caller),
                    );
                }
                std::collections::hash_map::Entry::Occupied(_) => {}
            }
            p.env_name(&format!("tokens[{i}].env"), &t.env);
            if !t.env.is_empty() && !envs.insert(t.env.as_str()) {
                p.add(&format!("tokens[{i}].env"), &format!("`{}` is used by another token", t.env));
            }
            p.non_empty(&format!("tokens[{i}].caller"), &t.caller);
            for (j, target) in t.targets.iter().enumerate() {
                if !names.contains(target) {
                    p.add(&format!("tokens[{i}].targets[{j}]"), &format!("`{target}` is not a configured target"));
                }
            }
        }
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: &str, message: &str) {
        self.0.push(Problem { path: path.to_string(), message: message.to_string() });
    }

    fn socket(&mut self, path: &str, value: &str) -> Option<SocketAddr> {
        let parsed = value.parse::<SocketAddr>().ok();
        if parsed.is_none() {
            self.add(path, &format!("`{value}` is not an address such as 127.0.0.1:8080"));
        }
        parsed
    }

    fn non_empty(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(path, "must not be empty");
        }
    }

    /// Names of environment variables: the TOML names secrets, never holds them.
    fn env_name(&mut self, path: &str, name: &str) {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.add(path, &format!("`{name}` is not an environment variable name (letters, digits, _)"));
        }
    }

    fn timeout(&mut self, path: &str, seconds: Option<u64>) {
        if seconds == Some(0) {
            self.add(path, "must be greater than zero (omit it for the default)");
        }
    }
}

/// What a provider's record requires of its target: a base URL where it has no default,
/// its key under its field name, a version only where its API has a version header.
fn validate_provider(p: &mut Problems, at: &dyn Fn(&str) -> String, kind: ProviderKind, t: &ProviderTarget) {
    let spec = sipp::provider_spec(kind);
    p.non_empty(&at("model"), &t.model);
    match (&t.base_url, spec.default_base_url) {
        (Some(url), _) => check_url(p, &at("base_url"), url),
        (None, None) => p.add(&at("base_url"), &format!("is required for {} targets", kind.as_str())),
        (None, Some(_)) => {}
    }
    let key_field = spec.gateway_key_field;
    match t.key_env(kind) {
        Some(name) => p.env_name(&at(key_field), name),
        None => p.add(&at(key_field), &format!("is required for {} targets", kind.as_str())),
    }
    let other = if key_field == "token_env" { ("api_key_env", &t.api_key_env) } else { ("token_env", &t.token_env) };
    if other.1.is_some() {
        p.add(&at(other.0), &format!("is not a field of {} targets; use {key_field}", kind.as_str()));
    }
    if t.version.is_some() && spec.default_headers.is_empty() {
        p.add(&at("version"), &format!("{} has no API version header", kind.as_str()));
    }
    p.timeout(&at("timeout_seconds"), t.timeout_seconds);
    if let Some(h) = &t.correlation_header {
        if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            p.add(&at("correlation_header"), &format!("`{h}` is not an HTTP header name"));
        }
    }
}

fn check_url(p: &mut Problems, path: &str, url: &str) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && !url.contains(['?', '#', ' ']);
    if !ok {
        p.add(path, &format!("`{url}` is not an absolute http(s) URL"));
    }
}

fn check_origin(p: &mut Problems, path: &str, origin: &str) {
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    if !rest.is_some_and(|r| !r.is_empty() && !r.contains('/')) {
        p.add(path, &format!("`{origin}` is not an origin such as https://app.example.com"));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SPEC_EXAMPLE: &str = r#"
public_bind = "0.0.0.0:8080"
management_bind = "0.0.0.0:9090"
max_request_bytes = 1048576
max_concurrent_requests = 4
allowed_origins = []
admin_password_env = "SIPP_GATEWAY_ADMIN_PASSWORD"

[security.client_ip]
source = "peer"
trusted_proxy_cidrs = []

[security.rate_limit]
enabled = false
requests_per_minute = 60
burst = 60

[routes]
query = "/v1/query"
chat = "/v1/chat"
embed = "/v1/embed"
index = "/"
health = "/healthz"
readiness = "/readyz"
metrics = "/metrics"
admin = "/admin"

[[tokens]]
env = "SIPP_GATEWAY_TOKEN"
caller = "production-client"
targets = ["local"]

[[targets]]
name = "local"
type = "local"
model = "/models/model.gguf"
backend = "auto"
stats = "basic"
"#;

    #[test]
    fn the_spec_example_is_valid() {
        let c = GatewayConfig::parse(SPEC_EXAMPLE).unwrap();
        assert_eq!(c.validate(), []);
        assert_eq!(c.max_concurrent_requests, Some(4));
        let TargetConfig::Local(l) = &c.targets[0] else { panic!() };
        assert_eq!((l.backend, l.stats), (Backend::Auto, Stats::Basic));
    }

    #[test]
    fn the_templates_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".toml.example") {
                let c = GatewayConfig::load(&path).unwrap_or_else(|p| panic!("{}: {p}", path.display()));
                assert_eq!(c.validate(), [], "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 2, "templates checked: {seen}");
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let broken = SPEC_EXAMPLE
            .replace("0.0.0.0:9090", "0.0.0.0:8080")
            .replace("max_request_bytes = 1048576", "max_request_bytes = 0")
            .replace("allowed_origins = []", r#"allowed_origins = ["app.example.com"]"#)
            .replace("trusted_proxy_cidrs = []", r#"trusted_proxy_cidrs = ["10.0.0.0/33"]"#)
            .replace(r#"embed = "/v1/embed""#, r#"embed = "/v1/chat""#)
            .replace(r#"metrics = "/metrics""#, r#"metrics = "metrics?x""#)
            .replace(r#"targets = ["local"]"#, r#"targets = ["local", "gpu"]"#)
            + r#"
[[targets]]
name = "local"
type = "openai_compatible"
model = "m"
base_url = "provider.example/v1"
token_env = "bad-name"
timeout_seconds = 0
"#;
        let problems: Vec<String> =
            GatewayConfig::parse(&broken).unwrap().validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "management_bind: must differ from public_bind",
                "max_request_bytes: must be greater than zero",
                "allowed_origins[0]: `app.example.com` is not an origin such as https://app.example.com",
                "security.client_ip.trusted_proxy_cidrs[0]: `10.0.0.0/33` is not a CIDR (e.g. 10.0.0.0/8)",
                "routes.embed: `/v1/chat` is already used by another route of the same listener",
                "routes.metrics: `metrics?x` must be an absolute path starting with /",
                "targets[1].name: `local` names another target too",
                "targets[1].base_url: `provider.example/v1` is not an absolute http(s) URL",
                "targets[1].token_env: `bad-name` is not an environment variable name (letters, digits, _)",
                "targets[1].timeout_seconds: must be greater than zero (omit it for the default)",
                "tokens[0].targets[1]: `gpu` is not a configured target",
            ]
        );
    }

    #[test]
    fn unknown_keys_types_and_missing_fields_name_the_place() {
        for (text, says) in [
            (
                SPEC_EXAMPLE.replace("max_concurrent_requests = 4", "max_concurent_requests = 4"),
                "unknown field `max_concurent_requests`",
            ),
            (SPEC_EXAMPLE.replace(r#"type = "local""#, r#"type = "ollama""#), "unknown variant `ollama`"),
            (SPEC_EXAMPLE.replace(r#"stats = "basic""#, "stats = \"basic\"\ngpu = true"), "unknown field `gpu`"),
            (SPEC_EXAMPLE.replace(r#"source = "peer""#, r#"source = "cookie""#), "unknown variant `cookie`"),
            (
                SPEC_EXAMPLE.replace(r#"admin_password_env = "SIPP_GATEWAY_ADMIN_PASSWORD""#, ""),
                "missing field `admin_password_env`",
            ),
            (SPEC_EXAMPLE.replace(r#"backend = "auto""#, r#"backend = "tpu""#), "tpu"),
        ] {
            let e = GatewayConfig::parse(&text).unwrap_err();
            assert!(e.message.contains(says), "{says}: {e}");
            assert!(e.message.contains("line"), "the place is named: {e}");
        }
    }

    #[test]
    fn traffic_limits_and_state_are_checked() {
        let text = SPEC_EXAMPLE.replace(
            r#"targets = ["local"]"#,
            "targets = [\"local\"]\ntokens_per_minute = 1000\nrequests_per_minute = 0",
        ) + r#"
[[tokens]]
env = "OTHER_TOKEN"
caller = "production-client"
tokens_per_minute = 2000

[state]
redis_url = "redis://:hunter2@127.0.0.1:6379/0"
timeout_ms = 0
"#;
        let text =
            text.replace(r#"stats = "basic""#, "stats = \"basic\"\n[targets.limits]\nmax_concurrent_streams = 0");
        let problems: Vec<String> =
            GatewayConfig::parse(&text).unwrap().validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "targets[0].limits.max_concurrent_streams: must be greater than zero (omit it for no limit)",
                "tokens[0].requests_per_minute: must be greater than zero (omit it for no limit)",
                "tokens[1]: caller `production-client` has other limits in tokens[0]; a caller's tokens share one set of limits",
                "state.redis_url: must not hold a password; name its variable in redis_password_env",
                "state.timeout_ms: must be between 1 and 60000",
            ]
        );
        assert!(!problems.concat().contains("hunter2"), "a password in the URL is never repeated");
        let good = SPEC_EXAMPLE.replace(r#"targets = ["local"]"#, "targets = [\"local\"]\ntokens_per_minute = 1000")
            + "[state]\nredis_url = \"redis://127.0.0.1:6379/0\"\non_unreachable = \"fail_open\"\n";
        let c = GatewayConfig::parse(&good).unwrap();
        assert_eq!(c.validate(), []);
        let state = c.state.unwrap();
        assert_eq!(
            (state.on_unreachable, state.timeout_ms, state.key_prefix.as_str()),
            (crate::traffic::Unreachable::FailOpen, 250, "sipp:")
        );
        let typo = good.replace("on_unreachable", "on_unreachabel");
        assert!(GatewayConfig::parse(&typo).unwrap_err().message.contains("unknown field `on_unreachabel`"));
        let bad = SPEC_EXAMPLE.replace(r#"stats = "basic""#, "[targets.limits]\ntokens_per_hour = 1");
        assert!(GatewayConfig::parse(&bad).unwrap_err().message.contains("tokens_per_hour"));
    }

    #[test]
    fn local_runtime_settings_use_the_shared_schema() {
        let text =
            SPEC_EXAMPLE.replace(r#"stats = "basic""#, "stats = \"profile\"\n[targets.runtime.context]\nn_ctx = 2048");
        let c = GatewayConfig::parse(&text).unwrap();
        let TargetConfig::Local(l) = &c.targets[0] else { panic!() };
        assert_eq!((l.stats, l.runtime.context.n_ctx), (Stats::Profile, Some(2048)));
        let bad = SPEC_EXAMPLE.replace(r#"stats = "basic""#, "[targets.runtime.context]\nn_kontext = 1");
        assert!(GatewayConfig::parse(&bad).unwrap_err().message.contains("n_kontext"));
    }
}
