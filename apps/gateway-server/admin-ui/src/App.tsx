// The dashboard's shell: the session (restored from the HTTP-only cookie on reload), a
// poll of the overview and the metrics history every sample interval, and the pages.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, setCsrf } from "./api";
import { merge } from "./history";
import { Access } from "./pages/Access";
import { AuditPage } from "./pages/AuditPage";
import { Dashboard } from "./pages/Dashboard";
import { Limits } from "./pages/Limits";
import { Login } from "./pages/Login";
import { Requests } from "./pages/Requests";
import { Targets } from "./pages/Targets";
import type { MetricsAnswer, Overview, Sample, SessionAnswer } from "./types";

const PAGES = [
  ["overview", "Overview"],
  ["targets", "Targets"],
  ["access", "Callers & blocklist"],
  ["limits", "Limits"],
  ["requests", "Recent requests"],
  ["audit", "Sessions & audit"],
] as const;
type Page = (typeof PAGES)[number][0];

function pageFromHash(): Page {
  const h = window.location.hash.replace(/^#\/?/, "");
  return (PAGES.find(([id]) => id === h)?.[0] ?? "overview") as Page;
}

export interface Ctx {
  overview: Overview;
  samples: Sample[];
  totals: MetricsAnswer["totals"] | null;
  /** Run a change, show its error if any, then refresh. */
  act: (what: () => Promise<unknown>) => Promise<boolean>;
  refresh: () => void;
}

export function App() {
  const [session, setSession] = useState<SessionAnswer | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [overview, setOverview] = useState<Overview | null>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [totals, setTotals] = useState<MetricsAnswer["totals"] | null>(null);
  const [page, setPage] = useState<Page>(pageFromHash());
  const [error, setError] = useState<string | null>(null);
  const since = useRef(0);

  const signedOut = useCallback((why: string | null) => {
    setCsrf(null);
    setSession(null);
    setOverview(null);
    setSamples([]);
    since.current = 0;
    setNotice(why);
  }, []);

  const failed = useCallback(
    (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) signedOut("Your session ended. Log in again.");
      else setError(err instanceof Error ? err.message : String(err));
    },
    [signedOut],
  );

  useEffect(() => {
    api
      .get<SessionAnswer>("session")
      .then((s) => {
        setCsrf(s.csrf_token);
        setSession(s);
      })
      .catch(() => setSession(null));
    const onHash = () => setPage(pageFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const refresh = useCallback(async () => {
    try {
      const [o, m] = await Promise.all([
        api.get<Overview>("overview"),
        api.get<MetricsAnswer>(`metrics?since=${since.current}`),
      ]);
      setOverview(o);
      setTotals(m.totals);
      if (m.samples.length) {
        since.current = m.samples[m.samples.length - 1]!.at;
        setSamples((old) => merge(old, m.samples, m.history_ms));
      }
    } catch (err) {
      failed(err);
    }
  }, [failed]);

  useEffect(() => {
    if (!session) return;
    void refresh();
    const timer = window.setInterval(() => void refresh(), 2000);
    return () => window.clearInterval(timer);
  }, [session, refresh]);

  const act = useCallback(
    async (what: () => Promise<unknown>) => {
      setError(null);
      try {
        await what();
        await refresh();
        return true;
      } catch (err) {
        failed(err);
        return false;
      }
    },
    [failed, refresh],
  );

  async function logout() {
    try {
      await api.delete("session");
    } finally {
      signedOut("Logged out.");
    }
  }

  if (session === undefined) return <main className="login muted">Loading…</main>;
  if (session === null)
    return (
      <Login
        notice={notice}
        onLogin={(s) => {
          setCsrf(s.csrf_token);
          setNotice(null);
          setSession(s);
        }}
      />
    );

  const ctx: Ctx | null = overview ? { overview, samples, totals, act, refresh: () => void refresh() } : null;
  return (
    <div className="shell">
      <header className="top">
        <div className="brand">
          <span className="dot" /> Sipp gateway <span className="muted">{overview?.version}</span>
        </div>
        <div className={`status ${overview?.ready ? "ok" : "warn"}`} data-testid="readiness">
          {overview ? (overview.ready ? "ready" : "loading targets") : "…"}
        </div>
        <div className="who muted">
          session {session.session.id}
          <button className="link" onClick={() => void logout()} data-testid="logout">
            Log out
          </button>
        </div>
      </header>
      <nav className="tabs">
        {PAGES.map(([id, label]) => (
          <a key={id} href={`#/${id}`} className={page === id ? "active" : ""} data-testid={`tab-${id}`}>
            {label}
          </a>
        ))}
      </nav>
      {error && (
        <div className="banner error" role="alert" data-testid="action-error">
          {error}
          <button className="link" onClick={() => setError(null)}>
            dismiss
          </button>
        </div>
      )}
      <main className="content">
        {!ctx ? (
          <p className="muted">Loading…</p>
        ) : page === "overview" ? (
          <Dashboard ctx={ctx} />
        ) : page === "targets" ? (
          <Targets ctx={ctx} />
        ) : page === "access" ? (
          <Access ctx={ctx} />
        ) : page === "limits" ? (
          <Limits ctx={ctx} />
        ) : page === "requests" ? (
          <Requests onError={failed} />
        ) : (
          <AuditPage onError={failed} act={act} current={session.session.id} />
        )}
      </main>
    </div>
  );
}
