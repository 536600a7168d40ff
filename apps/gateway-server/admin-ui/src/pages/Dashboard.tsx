// The page an operator keeps open: live numbers on top, then the last 15 minutes as
// charts — traffic by target, caller and operation, tokens, latency and time to first
// token, in-flight requests and refusals, and each local target's engine.
import type { Ctx } from "../App";
import { Chart } from "../components/Chart";
import { byKey, errorsOf, perSecond, rows } from "../history";
import { millis, num } from "../format";
import type { Sample } from "../types";
import { Table } from "../components/Table";

function Tile({ label, value, hint, testId }: { label: string; value: string; hint?: string; testId?: string }) {
  return (
    <div className="tile" data-testid={testId}>
      <div className="tile-label">{label}</div>
      <div className="tile-value">{value}</div>
      {hint && <div className="tile-hint muted">{hint}</div>}
    </div>
  );
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

export function Dashboard({ ctx }: { ctx: Ctx }) {
  const { samples, totals, overview } = ctx;
  const last: Sample | undefined = samples[samples.length - 1];
  const recent = samples.slice(-15);
  const rate = (f: (s: Sample) => number) =>
    recent.length ? recent.reduce((a, s) => a + perSecond(f(s), s), 0) / recent.length : 0;
  const locals = overview.targets.filter((t) => t.type === "local");

  return (
    <>
      <section className="tiles">
        <Tile label="Requests/s" value={num(rate((s) => s.requests), 2)} hint="last 30 s" testId="tile-rps" />
        <Tile label="Errors/s" value={num(rate((s) => s.errors), 2)} hint={`${num(totals?.errors)} since start`} />
        <Tile label="Input tokens/s" value={num(rate((s) => s.input_tokens), 1)} hint={`${num(totals?.input_tokens)} total`} />
        <Tile label="Output tokens/s" value={num(rate((s) => s.output_tokens), 1)} hint={`${num(totals?.output_tokens)} total`} />
        <Tile label="Latency p50 / p99" value={`${millis(last?.latency_p50_ms)} / ${millis(last?.latency_p99_ms)}`} hint="last sample" />
        <Tile label="Time to first token p50" value={millis(last?.ttft_p50_ms)} hint="streams and local targets" />
        <Tile label="In flight" value={num(totals?.in_flight)} hint={`admission ${num(overview.limits.admission_held)} / ${overview.limits.max_concurrent_requests ?? "∞"}`} testId="tile-in-flight" />
        <Tile label="Refused" value={num(totals ? sum(totals.rejections) : 0)} hint={`${num(totals?.blocked)} blocked`} testId="tile-refused" />
        <Tile label="Requests" value={num(totals?.requests)} hint="since start" testId="tile-requests" />
      </section>

      <section className="grid">
        <Chart title="Requests/s by target" testId="chart-targets" {...byKey(samples, (s) => s.by_target)} />
        <Chart
          title="Tokens/s"
          testId="chart-tokens"
          {...rows(samples, [
            { label: "input", value: (s) => perSecond(s.input_tokens, s) },
            { label: "output", value: (s) => perSecond(s.output_tokens, s) },
          ])}
        />
        <Chart
          title="Latency and time to first token"
          unit=" ms"
          testId="chart-latency"
          {...rows(samples, [
            { label: "p50", value: (s) => s.latency_p50_ms ?? null },
            { label: "p99", value: (s) => s.latency_p99_ms ?? null },
            { label: "TTFT p50", value: (s) => s.ttft_p50_ms ?? null, dash: true },
            { label: "TTFT p99", value: (s) => s.ttft_p99_ms ?? null, dash: true },
          ])}
        />
        <Chart
          title="In flight, errors and refusals"
          testId="chart-pressure"
          {...rows(samples, [
            { label: "in flight", value: (s) => s.in_flight },
            { label: "errors/s", value: (s) => perSecond(s.errors, s) },
            { label: "refused/s", value: (s) => perSecond(sum(s.rejections), s) },
            { label: "blocked/s", value: (s) => perSecond(s.rejections["blocked"] ?? 0, s), dash: true },
          ])}
        />
        <Chart title="Requests/s by caller" testId="chart-callers" {...byKey(samples, (s) => s.by_caller)} />
        <Chart title="Requests/s by operation" testId="chart-operations" {...byKey(samples, (s) => s.by_operation)} />
        <Chart title="Errors/s by target" testId="chart-target-errors" {...byKey(samples, (s) => errorsOf(s.by_target))} />
        <Chart title="Errors/s by caller" testId="chart-caller-errors" {...byKey(samples, (s) => errorsOf(s.by_caller))} />
        <Chart
          title="Errors/s by operation"
          testId="chart-operation-errors"
          {...byKey(samples, (s) => errorsOf(s.by_operation))}
        />
        {locals.length > 0 && (
          <Chart
            title="Local targets: running and waiting requests"
            testId="chart-engines"
            {...rows(
              samples,
              locals.flatMap((t) => [
                { label: `${t.name} running`, value: (s: Sample) => s.engines[t.name]?.running ?? null },
                { label: `${t.name} waiting`, value: (s: Sample) => s.engines[t.name]?.waiting ?? null, dash: true },
              ]),
            )}
          />
        )}
        {locals.length > 0 && (
          <Chart
            title="Local targets: KV cells used"
            unit="%"
            testId="chart-kv"
            {...rows(
              samples,
              locals.map((t) => ({
                label: t.name,
                value: (s: Sample) => {
                  const e = s.engines[t.name];
                  return e && e.kv_cells_total ? (100 * e.kv_cells_used) / e.kv_cells_total : null;
                },
              })),
            )}
          />
        )}
      </section>

      <section className="card">
        <h2>Targets</h2>
        <Table columns={["Name", "Type", "Model", "Backend", "State", "KV cells", "Snapshot hits"]}>
          {overview.targets.map((t) => {
            const e = last?.engines[t.name];
            return (
              <tr key={t.name} data-testid={`overview-target-${t.name}`}>
                <td>{t.name}</td>
                <td>{t.type}</td>
                <td title={t.model_path ?? t.base_url ?? ""}>{t.model}</td>
                <td data-testid={`backend-${t.name}`}>{t.backend ?? "–"}</td>
                <td>
                  <State t={t} />
                </td>
                <td>{e ? `${num(e.kv_cells_used)} / ${num(e.kv_cells_total)}` : "–"}</td>
                <td>{e ? num(e.snapshot_restores) : "–"}</td>
              </tr>
            );
          })}
        </Table>
      </section>
    </>
  );
}

export function State({ t }: { t: Ctx["overview"]["targets"][number] }) {
  if (t.disabled) return <span className="pill bad" title={t.disabled.reason}>disabled</span>;
  if (!t.loaded) return <span className="pill warn">loading</span>;
  return <span className="pill ok">ready</span>;
}
