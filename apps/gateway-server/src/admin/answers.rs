//! The admin API's JSON, typed once: what `views` answer and what `actions` accept. The
//! dashboard's TypeScript types are generated from the schema these derive
//! (`schema/gateway-admin.schema.json`, written by `cargo xtask schema`; the app's build
//! turns it into `src/api-types.ts`), so the two sides cannot drift apart.

use super::audit::AuditEntry;
use super::session::SessionView;
use crate::activity::{RequestRecord, Sample};
use crate::controls::Disabled;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `GET/POST <admin>/api/session`: the session and the CSRF token every change must send
/// in `x-sipp-admin-csrf` (the app keeps it in memory only).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionAnswer {
    pub session: SessionView,
    pub csrf_token: String,
}

/// `GET <admin>/api/overview`: routes, targets, callers, limits and fallbacks.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Overview {
    pub service: String,
    pub version: String,
    /// Every target finished loading.
    pub ready: bool,
    pub public_bind: String,
    pub management_bind: String,
    pub public_routes: PublicRoutes,
    pub management_routes: ManagementRoutes,
    pub targets: Vec<TargetState>,
    pub tokens: Vec<CallerView>,
    pub limits: Limits,
    /// Target → the target that serves it while it is disabled or overloaded.
    pub fallbacks: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PublicRoutes {
    pub query: String,
    pub chat: String,
    pub embed: String,
    /// The OpenAI-compatible routes, when on.
    pub openai: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ManagementRoutes {
    pub index: String,
    pub health: String,
    pub readiness: String,
    pub metrics: String,
    pub admin: String,
}

/// One configured target, what it runs on, and the operator's overrides.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TargetState {
    pub name: String,
    /// `local`, or the provider (`openai`, `openai_compatible`, `anthropic`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The GGUF file name, or the provider's model.
    pub model: String,
    pub loaded: bool,
    /// Loaded and not disabled.
    pub ready: bool,
    pub disabled: Option<Disabled>,
    pub fallback: Option<String>,
    /// The backend a local target loaded on (`auto` resolved); none for providers.
    pub backend: Option<String>,
    /// Local targets: the TOML's `backend`.
    pub backend_configured: Option<String>,
    pub model_path: Option<String>,
    pub context: Option<ContextView>,
    /// Provider targets: where requests go (credentials in the URL are masked).
    pub base_url: Option<String>,
    /// Provider targets: the name of the variable holding the key, never the key.
    pub key_env: Option<String>,
}

/// A loaded local target's window and slots.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContextView {
    pub n_ctx: u32,
    pub n_seq_max: u32,
    pub kv_cells: u32,
    pub embeddings: bool,
}

/// A `[[tokens]]` entry by its caller label (the token itself is never shown).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CallerView {
    pub caller: String,
    pub targets: Vec<String>,
    /// An empty allowlist grants every target.
    pub all_targets: bool,
    pub blocked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitView {
    pub enabled: bool,
    pub requests_per_minute: u32,
    pub burst: u32,
}

impl From<&crate::config::RateLimitConfig> for RateLimitView {
    fn from(r: &crate::config::RateLimitConfig) -> Self {
        Self { enabled: r.enabled, requests_per_minute: r.requests_per_minute, burst: r.burst }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Limits {
    /// In force now (`null`: unlimited).
    pub max_concurrent_requests: Option<u32>,
    /// The TOML's.
    pub configured_max_concurrent_requests: Option<u32>,
    /// Places held by running requests.
    pub admission_held: u64,
    pub rate_limit: RateLimitView,
    pub configured_rate_limit: RateLimitView,
}

/// `GET <admin>/api/metrics?since=`: the rolling history and totals since start.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricsAnswer {
    pub sample_every_ms: u64,
    pub history_ms: u64,
    /// Oldest first, newer than `since`.
    pub samples: Vec<Sample>,
    pub totals: Totals,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub in_flight: i64,
    /// Refusals before running, by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Requests the blocklist refused.
    pub blocked: u64,
}

/// `GET <admin>/api/requests`: newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestsAnswer {
    pub requests: Vec<RequestRecord>,
}

/// `GET <admin>/api/sessions`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionsAnswer {
    pub sessions: Vec<SessionView>,
    /// This browser's session.
    pub current: String,
}

/// `GET <admin>/api/audit`: newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditAnswer {
    pub entries: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// A client IP or CIDR.
    Ip,
    /// A token's caller label.
    Caller,
}

/// One blocklist entry.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BlockView {
    pub kind: BlockKind,
    pub value: String,
    pub reason: String,
    pub added_at: u64,
    pub added_by: String,
    /// Requests it refused.
    pub hits: u64,
}

/// `GET <admin>/api/blocklist`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BlocklistAnswer {
    pub entries: Vec<BlockView>,
}

/// `POST <admin>/api/session`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Login { .. }")
    }
}

/// `POST <admin>/api/blocklist`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub kind: BlockKind,
    /// An IP, a CIDR, or a caller label.
    pub value: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `DELETE <admin>/api/blocklist`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unblock {
    pub kind: BlockKind,
    pub value: String,
}

/// `POST <admin>/api/targets/{name}/disable` (the body may be left out).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disable {
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PUT <admin>/api/fallbacks/{name}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    pub target: String,
}

/// `PUT <admin>/api/limits`: either field may be left out.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    /// A positive number, or `null` for unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<u32>")]
    pub max_concurrent_requests: Option<Option<u32>>,
    #[serde(default)]
    pub rate_limit: Option<RateLimitView>,
}

/// A field that is present, `null` included (absent stays `None` through `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Every answer and body above, as the JSON Schema the app's types come from.
pub fn admin_schema() -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    g.subschema_for::<SessionAnswer>();
    g.subschema_for::<Overview>();
    g.subschema_for::<MetricsAnswer>();
    g.subschema_for::<RequestsAnswer>();
    g.subschema_for::<SessionsAnswer>();
    g.subschema_for::<AuditAnswer>();
    g.subschema_for::<BlocklistAnswer>();
    g.subschema_for::<Login>();
    g.subschema_for::<Block>();
    g.subschema_for::<Unblock>();
    g.subschema_for::<Disable>();
    g.subschema_for::<Fallback>();
    g.subschema_for::<LimitsChange>();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sipp.dev/schema/gateway-admin.schema.json",
        "title": "Sipp gateway admin API",
        "description": "Generated from the gateway's Rust types by `cargo xtask schema`; do not edit.",
        "$defs": g.take_definitions(true),
    })
}
