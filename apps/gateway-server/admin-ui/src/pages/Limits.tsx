// The admission limit (requests running at once) and the per-client rate limit, changed
// for the running process; the TOML's values are shown beside them.
import { useState, type FormEvent } from "react";
import type { Ctx } from "../App";
import { api } from "../api";
import type { LimitsChange } from "../types";

export function Limits({ ctx }: { ctx: Ctx }) {
  const l = ctx.overview.limits;
  const [admission, setAdmission] = useState(l.max_concurrent_requests?.toString() ?? "");
  const [enabled, setEnabled] = useState(l.rate_limit.enabled);
  const [rpm, setRpm] = useState(l.rate_limit.requests_per_minute.toString());
  const [burst, setBurst] = useState(l.rate_limit.burst.toString());

  const saveAdmission = (e: FormEvent) => {
    e.preventDefault();
    const n = admission.trim();
    void ctx.act(() => api.put("limits", { max_concurrent_requests: n ? Number(n) : null } satisfies LimitsChange));
  };
  const saveRate = (e: FormEvent) => {
    e.preventDefault();
    void ctx.act(() =>
      api.put("limits", {
        rate_limit: { enabled, requests_per_minute: Number(rpm), burst: Number(burst) },
      } satisfies LimitsChange),
    );
  };

  return (
    <div className="columns">
      <form className="card" onSubmit={saveAdmission}>
        <h2>Admission</h2>
        <p className="muted">
          Requests running at once ({l.admission_held} now). Lowering it refuses new requests with 429 until enough
          running ones finish; none is cut short. TOML: {l.configured_max_concurrent_requests ?? "unlimited"}.
        </p>
        <label>
          max_concurrent_requests
          <input type="number" min={1} placeholder="unlimited" value={admission} onChange={(e) => setAdmission(e.target.value)} data-testid="admission" />
        </label>
        <button type="submit" data-testid="save-admission">
          Apply
        </button>
      </form>
      <form className="card" onSubmit={saveRate}>
        <h2>Rate limit per client IP</h2>
        <p className="muted">
          A token bucket per client address. Applying starts every client with a full bucket. TOML:{" "}
          {l.configured_rate_limit.enabled
            ? `${l.configured_rate_limit.requests_per_minute}/min, burst ${l.configured_rate_limit.burst}`
            : "off"}
          .
        </p>
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} data-testid="rate-enabled" /> enabled
        </label>
        <label>
          requests_per_minute
          <input type="number" min={1} value={rpm} onChange={(e) => setRpm(e.target.value)} />
        </label>
        <label>
          burst
          <input type="number" min={1} value={burst} onChange={(e) => setBurst(e.target.value)} />
        </label>
        <button type="submit" data-testid="save-rate">
          Apply
        </button>
      </form>
    </div>
  );
}
