// Generated from schema/gateway-admin.schema.json by scripts/types.mjs (npm run build). Do not edit:
// change the Rust types in apps/gateway-server/src/admin/answers.rs and run `cargo xtask schema`.

export type BlockKind = "ip" | "caller";

/**
 * `GET <admin>/api/audit`: newest first.
 */
export interface AuditAnswer {
  entries: AuditEntry[];
}
/**
 * One admin action.
 */
export interface AuditEntry {
  /**
   * `login`, `login_failed`, `block`, `disable`, …
   */
  action: string;
  /**
   * Unix milliseconds.
   */
  at: number;
  client: string;
  /**
   * What it acted on, in words (never a secret).
   */
  detail: string;
  /**
   * The session's public handle (`-` before login).
   */
  session: string;
}
/**
 * `POST <admin>/api/blocklist`.
 */
export interface Block {
  kind: BlockKind;
  reason?: string | null;
  /**
   * An IP, a CIDR, or a caller label.
   */
  value: string;
}
/**
 * One blocklist entry.
 */
export interface BlockView {
  added_at: number;
  added_by: string;
  /**
   * Requests it refused.
   */
  hits: number;
  kind: BlockKind;
  reason: string;
  value: string;
}
/**
 * `GET <admin>/api/blocklist`.
 */
export interface BlocklistAnswer {
  entries: BlockView[];
}
/**
 * A `[[tokens]]` entry by its caller label (the token itself is never shown).
 */
export interface CallerView {
  /**
   * An empty allowlist grants every target.
   */
  all_targets: boolean;
  blocked: boolean;
  caller: string;
  targets: string[];
}
/**
 * A loaded local target's window and slots.
 */
export interface ContextView {
  embeddings: boolean;
  kv_cells: number;
  n_ctx: number;
  n_seq_max: number;
}
/**
 * Requests and errors of one key within a sample.
 */
export interface Count {
  errors: number;
  requests: number;
}
/**
 * `POST <admin>/api/targets/{name}/disable` (the body may be left out).
 */
export interface Disable {
  reason?: string | null;
}
/**
 * A target an operator turned off.
 */
export interface Disabled {
  reason: string;
  /**
   * Unix milliseconds.
   */
  since: number;
}
/**
 * A local target's engine at sample time.
 */
export interface EngineSample {
  kv_cells_total: number;
  kv_cells_used: number;
  reused_prompt_tokens: number;
  running: number;
  /**
   * Cumulative, as the engine counts them.
   */
  snapshot_restores: number;
  waiting: number;
}
/**
 * `PUT <admin>/api/fallbacks/{name}`.
 */
export interface Fallback {
  target: string;
}
export interface Limits {
  /**
   * Places held by running requests.
   */
  admission_held: number;
  /**
   * The TOML's.
   */
  configured_max_concurrent_requests?: number | null;
  configured_rate_limit: RateLimitView;
  /**
   * In force now (`null`: unlimited).
   */
  max_concurrent_requests?: number | null;
  rate_limit: RateLimitView;
}
export interface RateLimitView {
  burst: number;
  enabled: boolean;
  requests_per_minute: number;
}
/**
 * `PUT <admin>/api/limits`: either field may be left out.
 */
export interface LimitsChange {
  /**
   * A positive number, or `null` for unlimited.
   */
  max_concurrent_requests?: number | null;
  rate_limit?: RateLimitView | null;
}
/**
 * `POST <admin>/api/session`.
 */
export interface Login {
  password: string;
}
export interface ManagementRoutes {
  admin: string;
  health: string;
  index: string;
  metrics: string;
  readiness: string;
}
/**
 * `GET <admin>/api/metrics?since=`: the rolling history and totals since start.
 */
export interface MetricsAnswer {
  history_ms: number;
  sample_every_ms: number;
  /**
   * Oldest first, newer than `since`.
   */
  samples: Sample[];
  totals: Totals;
}
/**
 * One point of the rolling history.
 */
export interface Sample {
  admission_held: number;
  /**
   * Unix milliseconds at the end of the interval.
   */
  at: number;
  by_caller: {
    [k: string]: Count;
  };
  by_operation: {
    [k: string]: Count;
  };
  by_target: {
    [k: string]: Count;
  };
  engines: {
    [k: string]: EngineSample;
  };
  errors: number;
  /**
   * Gauges at the end of the interval.
   */
  in_flight: number;
  input_tokens: number;
  interval_ms: number;
  latency_p50_ms?: number | null;
  latency_p99_ms?: number | null;
  output_tokens: number;
  /**
   * Refusals before running within the interval, by reason (blocked, rate_limited, …).
   */
  rejections: {
    [k: string]: number;
  };
  requests: number;
  ttft_p50_ms?: number | null;
  ttft_p99_ms?: number | null;
}
export interface Totals {
  /**
   * Requests the blocklist refused.
   */
  blocked: number;
  errors: number;
  in_flight: number;
  input_tokens: number;
  output_tokens: number;
  /**
   * Refusals before running, by reason.
   */
  rejections: {
    [k: string]: number;
  };
  requests: number;
}
/**
 * `GET <admin>/api/overview`: routes, targets, callers, limits and fallbacks.
 */
export interface Overview {
  /**
   * Target → the target that serves it while it is disabled or overloaded.
   */
  fallbacks: {
    [k: string]: string;
  };
  limits: Limits;
  management_bind: string;
  management_routes: ManagementRoutes;
  public_bind: string;
  public_routes: PublicRoutes;
  /**
   * Every target finished loading.
   */
  ready: boolean;
  service: string;
  targets: TargetState[];
  tokens: CallerView[];
  version: string;
}
export interface PublicRoutes {
  chat: string;
  embed: string;
  /**
   * The OpenAI-compatible routes, when on.
   */
  openai?: string[] | null;
  query: string;
}
/**
 * One configured target, what it runs on, and the operator's overrides.
 */
export interface TargetState {
  /**
   * The backend a local target loaded on (`auto` resolved); none for providers.
   */
  backend?: string | null;
  /**
   * Local targets: the TOML's `backend`.
   */
  backend_configured?: string | null;
  /**
   * Provider targets: where requests go (credentials in the URL are masked).
   */
  base_url?: string | null;
  context?: ContextView | null;
  disabled?: Disabled | null;
  fallback?: string | null;
  /**
   * Provider targets: the name of the variable holding the key, never the key.
   */
  key_env?: string | null;
  loaded: boolean;
  /**
   * The GGUF file name, or the provider's model.
   */
  model: string;
  model_path?: string | null;
  name: string;
  /**
   * Loaded and not disabled.
   */
  ready: boolean;
  /**
   * `local`, or the provider (`openai`, `openai_compatible`, `anthropic`).
   */
  type: string;
}
/**
 * One finished request as the dashboard lists it.
 */
export interface RequestRecord {
  /**
   * Unix milliseconds when it finished.
   */
  at: number;
  caller: string;
  error?: string | null;
  /**
   * The target asked for, when a fallback served it.
   */
  fallback_from?: string | null;
  id: string;
  input_tokens: number;
  latency_ms: number;
  operation: string;
  output_tokens: number;
  status: number;
  target: string;
  ttft_ms?: number | null;
}
/**
 * `GET <admin>/api/requests`: newest first.
 */
export interface RequestsAnswer {
  requests: RequestRecord[];
}
/**
 * `GET/POST <admin>/api/session`: the session and the CSRF token every change must send
 * in `x-sipp-admin-csrf` (the app keeps it in memory only).
 */
export interface SessionAnswer {
  csrf_token: string;
  session: SessionView;
}
/**
 * A session as the dashboard lists it.
 */
export interface SessionView {
  client: string;
  /**
   * Unix milliseconds.
   */
  created_at: number;
  /**
   * Unix milliseconds when it ends unless used again.
   */
  expires_at: number;
  /**
   * The public handle (never the cookie's secret).
   */
  id: string;
}
/**
 * `GET <admin>/api/sessions`.
 */
export interface SessionsAnswer {
  /**
   * This browser's session.
   */
  current: string;
  sessions: SessionView[];
}
/**
 * `DELETE <admin>/api/blocklist`.
 */
export interface Unblock {
  kind: BlockKind;
  value: string;
}
