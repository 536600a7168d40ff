// Admin sessions (revocable) and the audit list of every admin action.
import { useCallback, useState } from "react";
import { api } from "../api";
import { ago, time } from "../format";
import type { AuditEntry, SessionView } from "../types";
import { usePoll } from "../usePoll";
import { Table } from "../components/Table";

interface Props {
  onError: (e: unknown) => void;
  act: (what: () => Promise<unknown>) => Promise<boolean>;
  current: string;
}

export function AuditPage({ onError, act, current }: Props) {
  const [sessions, setSessions] = useState<SessionView[]>([]);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const load = useCallback(
    () =>
      Promise.all([api.get<{ sessions: SessionView[] }>("sessions"), api.get<{ entries: AuditEntry[] }>("audit")])
        .then(([s, a]) => {
          setSessions(s.sessions);
          setEntries(a.entries);
        })
        .catch(onError),
    [onError],
  );
  usePoll(load, 3000);
  return (
    <>
      <section className="card">
        <h2>Admin sessions</h2>
        <Table columns={["Session", "Client", "Since", "Ends", ""]}>
          {sessions.map((s) => (
            <tr key={s.id}>
              <td>
                <code>{s.id}</code> {s.id === current && <span className="pill ok">this browser</span>}
              </td>
              <td>{s.client}</td>
              <td>{ago(s.created_at)}</td>
              <td>{time(s.expires_at)}</td>
              <td>
                {s.id !== current && (
                  <button className="danger" onClick={() => void act(() => api.delete(`sessions/${s.id}`)).then(load)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      </section>
      <section className="card">
        <h2>Audit</h2>
        <Table columns={["When", "Session", "Client", "Action", "Detail"]} testId="audit">
          {entries.map((e, i) => (
            <tr key={`${e.at}-${i}`}>
              <td>{time(e.at)}</td>
              <td>
                <code>{e.session}</code>
              </td>
              <td>{e.client}</td>
              <td>{e.action}</td>
              <td>{e.detail}</td>
            </tr>
          ))}
        </Table>
      </section>
    </>
  );
}
