// The login form. The password goes to `POST api/session` and nowhere else: the field is
// cleared whatever the answer, and nothing of it is stored.
import { useState, type FormEvent } from "react";
import { api, ApiError } from "../api";
import type { LoginBody, SessionAnswer } from "../types";

export function Login({ onLogin, notice }: { onLogin: (s: SessionAnswer) => void; notice: string | null }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const given = password;
    setPassword("");
    try {
      onLogin(await api.post<SessionAnswer>("session", { password: given } satisfies LoginBody));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "Wrong password. Use the value of the variable named by admin_password_env."
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form onSubmit={submit} className="card login-card" data-testid="login-form">
        <h1>Sipp gateway</h1>
        <p className="muted">Admin Dashboard · management listener</p>
        {notice && <p className="notice">{notice}</p>}
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            autoFocus
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="password"
          />
        </label>
        <button type="submit" disabled={busy || !password} data-testid="login">
          {busy ? "Checking…" : "Log in"}
        </button>
        {error && (
          <p className="error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
