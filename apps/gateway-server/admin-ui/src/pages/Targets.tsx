// Targets with what they run on, and the operator's switches: disable (its requests get
// a 503 with the reason, or go to its fallback) and the fallback map.
import { useState } from "react";
import type { Ctx } from "../App";
import { api } from "../api";
import { State } from "./Dashboard";
import type { Disable, Fallback, Target } from "../types";
import { Table } from "../components/Table";

function Row({ t, ctx }: { t: Target; ctx: Ctx }) {
  const [reason, setReason] = useState("");
  const others = ctx.overview.targets.filter((o) => o.name !== t.name);
  const name = encodeURIComponent(t.name);
  return (
    <tr data-testid={`target-${t.name}`}>
      <td>
        <strong>{t.name}</strong>
        <div className="muted small">{t.type}</div>
      </td>
      <td>
        {t.model}
        <div className="muted small">{t.model_path ?? t.base_url ?? ""}</div>
      </td>
      <td>
        {t.type === "local" ? (
          <>
            <span data-testid={`target-backend-${t.name}`}>{t.backend ?? "loading"}</span>
            <div className="muted small">configured: {t.backend_configured}</div>
            {t.context && (
              <div className="muted small">
                n_ctx {t.context.n_ctx} · {t.context.n_seq_max} at once
              </div>
            )}
          </>
        ) : (
          <span className="muted">provider{t.key_env ? ` · key from $${t.key_env}` : ""}</span>
        )}
      </td>
      <td>
        <State t={t} />
        {t.disabled && <div className="muted small">{t.disabled.reason}</div>}
      </td>
      <td>
        {t.disabled ? (
          <button onClick={() => void ctx.act(() => api.post(`targets/${name}/enable`))} data-testid={`enable-${t.name}`}>
            Enable
          </button>
        ) : (
          <form
            className="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void ctx.act(() => api.post(`targets/${name}/disable`, (reason ? { reason } : {}) satisfies Disable));
            }}
          >
            <input placeholder="reason" value={reason} maxLength={200} onChange={(e) => setReason(e.target.value)} data-testid={`reason-${t.name}`} />
            <button className="danger" type="submit" data-testid={`disable-${t.name}`}>
              Disable
            </button>
          </form>
        )}
      </td>
      <td>
        <select
          value={t.fallback ?? ""}
          data-testid={`fallback-${t.name}`}
          onChange={(e) => {
            const to = e.target.value;
            void ctx.act(() => (to ? api.put(`fallbacks/${name}`, { target: to } satisfies Fallback) : api.delete(`fallbacks/${name}`)));
          }}
        >
          <option value="">no fallback</option>
          {others.map((o) => (
            <option key={o.name} value={o.name}>
              {o.name}
            </option>
          ))}
        </select>
      </td>
    </tr>
  );
}

export function Targets({ ctx }: { ctx: Ctx }) {
  const r = ctx.overview.public_routes;
  const m = ctx.overview.management_routes;
  return (
    <>
      <section className="card">
        <h2>Targets</h2>
        <p className="muted">
          Changes take effect on the next request and last until the gateway restarts. A fallback serves a target's
          requests while it is disabled or refuses for overload, when the caller may use the fallback; answers name the
          target that served them in <code>x-sipp-target</code> and <code>x-sipp-fallback-from</code>.
        </p>
        <Table columns={["Target", "Model", "Backend", "State", "Switch", "Fallback"]}>
          {ctx.overview.targets.map((t) => (
            <Row key={t.name} t={t} ctx={ctx} />
          ))}
        </Table>
      </section>
      <section className="card">
        <h2>Routes</h2>
        <div className="columns">
          <div>
            <h3>Public · {ctx.overview.public_bind}</h3>
            <ul className="routes" data-testid="public-routes">
              <li>
                <code>POST {r.query}</code> query
              </li>
              <li>
                <code>POST {r.chat}</code> chat
              </li>
              <li>
                <code>POST {r.embed}</code> embed
              </li>
              {r.openai?.map((p) => (
                <li key={p}>
                  <code>{p}</code> OpenAI-compatible
                </li>
              ))}
            </ul>
          </div>
          <div>
            <h3>Management · {ctx.overview.management_bind}</h3>
            <ul className="routes">
              {Object.entries(m).map(([k, v]) => (
                <li key={k}>
                  <code>{v}</code> {k}
                </li>
              ))}
            </ul>
          </div>
        </div>
      </section>
    </>
  );
}
