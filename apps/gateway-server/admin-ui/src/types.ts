// The admin API's types, generated from the gateway's Rust types (api-types.ts, by
// `npm run build`), under the names the pages use.
export type {
  AuditEntry,
  Block,
  BlockKind,
  Count,
  Disable,
  EngineSample,
  Fallback,
  LimitsChange,
  Login as LoginBody,
  MetricsAnswer,
  Overview,
  RateLimitView as RateLimit,
  RequestRecord,
  Sample,
  SessionAnswer,
  SessionView,
  Unblock,
  BlockView as BlockEntry,
  TargetState as Target,
} from "./api-types";
