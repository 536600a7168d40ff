// Who may call: caller labels (never their tokens) with their target allowlists, and the
// blocklist of caller labels and client addresses (an IP or a CIDR). A blocked client
// gets a 403 at once; entries count their hits.
import { useCallback, useState } from "react";
import type { Ctx } from "../App";
import { api } from "../api";
import { ago, num } from "../format";
import { usePoll } from "../usePoll";
import type { Block, BlockEntry, BlockKind, Unblock } from "../types";
import { Table } from "../components/Table";

export function Access({ ctx }: { ctx: Ctx }) {
  const [entries, setEntries] = useState<BlockEntry[]>([]);
  const [address, setAddress] = useState("");
  const [reason, setReason] = useState("");
  // A failure shows through the overview's own poll (a 401 logs out there).
  const load = useCallback(
    () =>
      api
        .get<{ entries: BlockEntry[] }>("blocklist")
        .then((b) => setEntries(b.entries))
        .catch(() => undefined),
    [],
  );
  usePoll(load);
  const change = async (what: () => Promise<unknown>) => {
    if (await ctx.act(what)) await load();
  };
  const block = (kind: BlockKind, value: string, why: string) =>
    change(() => api.post("blocklist", { kind, value, reason: why } satisfies Block));
  const unblock = (kind: BlockKind, value: string) =>
    change(() => api.delete("blocklist", { kind, value } satisfies Unblock));

  return (
    <>
      <section className="card">
        <h2>Callers</h2>
        <Table columns={["Caller label", "May use", "State", ""]}>
          {ctx.overview.tokens.map((t) => (
            <tr key={t.caller} data-testid={`caller-${t.caller}`}>
              <td>
                <strong>{t.caller}</strong>
              </td>
              <td>{t.all_targets ? <span className="muted">every target</span> : t.targets.join(", ")}</td>
              <td>{t.blocked ? <span className="pill bad">blocked</span> : <span className="pill ok">allowed</span>}</td>
              <td>
                {t.blocked ? (
                  <button onClick={() => void unblock("caller", t.caller)} data-testid={`unblock-caller-${t.caller}`}>
                    Unblock
                  </button>
                ) : (
                  <button className="danger" onClick={() => void block("caller", t.caller, "blocked from the dashboard")} data-testid={`block-caller-${t.caller}`}>
                    Block
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      </section>
      <section className="card">
        <h2>Blocklist</h2>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void block("ip", address, reason).then(() => {
              setAddress("");
              setReason("");
            });
          }}
        >
          <input placeholder="IP or CIDR, e.g. 203.0.113.9 or 198.51.100.0/24" value={address} onChange={(e) => setAddress(e.target.value)} size={40} data-testid="block-address" />
          <input placeholder="reason" value={reason} maxLength={200} onChange={(e) => setReason(e.target.value)} />
          <button className="danger" type="submit" disabled={!address.trim()} data-testid="block-address-submit">
            Block address
          </button>
        </form>
        <Table columns={["Kind", "Value", "Reason", "Added", "Refused", ""]} testId="blocklist" empty="Nothing is blocked." count={entries.length}>
          {entries.map((e) => (
            <tr key={`${e.kind}:${e.value}`}>
              <td>{e.kind}</td>
              <td>
                <code>{e.value}</code>
              </td>
              <td>{e.reason}</td>
              <td title={new Date(e.added_at).toISOString()}>
                {ago(e.added_at)} <span className="muted small">by {e.added_by}</span>
              </td>
              <td data-testid={`hits-${e.value}`}>{num(e.hits)}</td>
              <td>
                <button onClick={() => void unblock(e.kind, e.value)}>Unblock</button>
              </td>
            </tr>
          ))}
        </Table>
      </section>
    </>
  );
}
