// The admin API's answers (apps/gateway-server/src/admin/views.rs and activity.rs).

export interface SessionView {
  id: string;
  client: string;
  created_at: number;
  expires_at: number;
}

export interface SessionAnswer {
  session: SessionView;
  csrf_token: string;
}

export interface Disabled {
  reason: string;
  since: number;
}

export interface Target {
  name: string;
  type: string;
  model: string;
  loaded: boolean;
  ready: boolean;
  disabled: Disabled | null;
  fallback: string | null;
  /** The backend a local target loaded on (`auto` resolved); null for providers. */
  backend: string | null;
  backend_configured?: string;
  model_path?: string;
  base_url?: string | null;
  key_env?: string | null;
  context?: { n_ctx: number; n_seq_max: number; kv_cells: number; embeddings: boolean } | null;
}

export interface TokenView {
  caller: string;
  targets: string[];
  all_targets: boolean;
  blocked: boolean;
}

export interface RateLimit {
  enabled: boolean;
  requests_per_minute: number;
  burst: number;
}

export interface Overview {
  service: string;
  version: string;
  ready: boolean;
  public_bind: string;
  management_bind: string;
  public_routes: { query: string; chat: string; embed: string; openai: string[] | null };
  management_routes: Record<string, string>;
  targets: Target[];
  tokens: TokenView[];
  limits: {
    max_concurrent_requests: number | null;
    configured_max_concurrent_requests: number | null;
    admission_held: number;
    rate_limit: RateLimit;
    configured_rate_limit: RateLimit;
  };
  fallbacks: Record<string, string>;
}

export interface Count {
  requests: number;
  errors: number;
}

export interface EngineSample {
  running: number;
  waiting: number;
  kv_cells_used: number;
  kv_cells_total: number;
  snapshot_restores: number;
  reused_prompt_tokens: number;
}

export interface Sample {
  at: number;
  interval_ms: number;
  requests: number;
  errors: number;
  by_target: Record<string, Count>;
  by_operation: Record<string, Count>;
  by_caller: Record<string, Count>;
  input_tokens: number;
  output_tokens: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  ttft_p50_ms: number | null;
  ttft_p99_ms: number | null;
  in_flight: number;
  admission_held: number;
  rejections: Record<string, number>;
  engines: Record<string, EngineSample>;
}

export interface MetricsAnswer {
  sample_every_ms: number;
  history_ms: number;
  samples: Sample[];
  totals: {
    requests: number;
    errors: number;
    input_tokens: number;
    output_tokens: number;
    in_flight: number;
    rejections: Record<string, number>;
    blocked: number;
  };
}

export interface RequestRecord {
  id: string;
  at: number;
  caller: string;
  target: string;
  fallback_from?: string;
  operation: string;
  status: number;
  error?: string;
  input_tokens: number;
  output_tokens: number;
  latency_ms: number;
  ttft_ms?: number;
}

export interface BlockEntry {
  kind: "ip" | "caller";
  value: string;
  reason: string;
  added_at: number;
  added_by: string;
  hits: number;
}

export interface AuditEntry {
  at: number;
  session: string;
  client: string;
  action: string;
  detail: string;
}
