// The most recent requests: ids, callers, targets, status, tokens and timings. The
// gateway never keeps prompts or answers, so there is nothing else to show.
import { useCallback, useState } from "react";
import { api } from "../api";
import { millis, num, time } from "../format";
import type { RequestRecord } from "../types";
import { usePoll } from "../usePoll";
import { Table } from "../components/Table";

export function Requests({ onError }: { onError: (e: unknown) => void }) {
  const [list, setList] = useState<RequestRecord[]>([]);
  const load = useCallback(
    () =>
      api
        .get<{ requests: RequestRecord[] }>("requests?limit=200")
        .then((r) => setList(r.requests))
        .catch(onError),
    [onError],
  );
  usePoll(load);
  return (
    <section className="card">
      <h2>Recent requests</h2>
      <Table columns={["Finished", "Request id", "Caller", "Target", "Operation", "Status", "Tokens in / out", "Latency", "TTFT"]} testId="requests" empty="No requests yet." count={list.length}>
        {list.map((r) => (
          <tr key={`${r.id}-${r.at}`} className={r.error ? "failed" : ""}>
            <td>{time(r.at)}</td>
            <td>
              <code>{r.id}</code>
            </td>
            <td>{r.caller}</td>
            <td>
              {r.target}
              {r.fallback_from && <span className="muted small"> (for {r.fallback_from})</span>}
            </td>
            <td>{r.operation}</td>
            <td>
              {r.status}
              {r.error && <span className="muted small"> {r.error}</span>}
            </td>
            <td>
              {num(r.input_tokens)} / {num(r.output_tokens)}
            </td>
            <td>{millis(r.latency_ms)}</td>
            <td>{millis(r.ttft_ms)}</td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
