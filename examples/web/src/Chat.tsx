// One chat panel: a prompt, a streamed answer, Stop. The endpoint comes from `connect`,
// so the same panel serves a browser-local model and a gateway target.
import { useRef, useState } from "react";
import { type EndpointRef, SippError, type SippClient, type SippTextRun } from "@sipp/sipp";

export interface ChatProps {
  id: string;
  title: string;
  client: SippClient;
  connect: () => Promise<EndpointRef>;
  /** A line about the connected endpoint (the local panel shows its runtime). */
  describe?: (endpoint: EndpointRef) => string;
  children?: React.ReactNode;
}

export function Chat({ id, title, client, connect, describe, children }: ChatProps): React.JSX.Element {
  const [prompt, setPrompt] = useState("What is the capital of France?");
  const [answer, setAnswer] = useState("");
  const [status, setStatus] = useState("idle");
  const [about, setAbout] = useState("");
  const endpoint = useRef<Promise<EndpointRef> | null>(null);
  const run = useRef<SippTextRun | null>(null);

  async function send(): Promise<void> {
    setAnswer("");
    setStatus("running");
    try {
      endpoint.current ??= connect();
      const ref = await endpoint.current;
      if (describe) setAbout(describe(ref));
      const current = client.chat([{ role: "user", content: prompt }], { endpoint: ref, maxTokens: 64, emitTokens: true });
      run.current = current;
      for await (const batch of current.tokens) setAnswer((a) => a + batch.text);
      const response = await current.response;
      setAnswer(response.text);
      setStatus(`done: ${response.finishReason}`);
    } catch (e) {
      // A failed connect is retried on the next send (a token typed in, say).
      endpoint.current = null;
      setStatus(e instanceof SippError ? `${e.name}: ${e.message}` : `error: ${String(e)}`);
    } finally {
      run.current = null;
    }
  }

  return (
    <section className="panel" data-testid={`${id}-panel`}>
      <h2>{title}</h2>
      {about && (
        <p className="status" data-testid={`${id}-about`}>
          {about}
        </p>
      )}
      {children}
      <textarea data-testid={`${id}-prompt`} value={prompt} onChange={(e) => setPrompt(e.currentTarget.value)} rows={3} />
      <div className="buttons">
        <button type="button" data-testid={`${id}-send`} disabled={status === "running"} onClick={() => void send()}>
          Send
        </button>
        <button type="button" data-testid={`${id}-stop`} disabled={status !== "running"} onClick={() => run.current?.cancel("stopped")}>
          Stop
        </button>
      </div>
      <output data-testid={`${id}-answer`}>{answer}</output>
      <p className="status" data-testid={`${id}-status`}>
        {status}
      </p>
    </section>
  );
}
