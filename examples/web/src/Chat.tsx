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
  // A small model answers a bare question loosely; a system turn keeps it to the point.
  const [system, setSystem] = useState("Answer concisely.");
  const [prompt, setPrompt] = useState("What is the capital of France?");
  // Empty: the endpoint's default sampling. 0 is greedy (the same answer every time).
  const [temperature, setTemperature] = useState("");
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
      const ref = await endpoint.current.catch((e: unknown) => {
        // A failed connect is retried on the next send (a token typed in, say); a failed
        // request keeps the endpoint (adding it again would load the model again).
        endpoint.current = null;
        throw e;
      });
      if (describe) setAbout(describe(ref));
      const options = { endpoint: ref, maxTokens: 64, emitTokens: true as const };
      const messages = [
        ...(system.trim() === "" ? [] : [{ role: "system" as const, content: system }]),
        { role: "user" as const, content: prompt },
      ];
      // A bad temperature (negative, say) comes back from the library as a typed error.
      const current = client.chat(
        messages,
        temperature.trim() === "" ? options : { ...options, temperature: Number(temperature) },
      );
      run.current = current;
      for await (const batch of current.tokens) setAnswer((a) => a + batch.text);
      const response = await current.response;
      setAnswer(response.text);
      setStatus(`done: ${response.finishReason}`);
    } catch (e) {
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
      <label>
        System <input data-testid={`${id}-system`} value={system} onChange={(e) => setSystem(e.currentTarget.value)} />
      </label>
      <textarea data-testid={`${id}-prompt`} value={prompt} onChange={(e) => setPrompt(e.currentTarget.value)} rows={3} />
      <label>
        Temperature{" "}
        <input
          data-testid={`${id}-temperature`}
          type="number"
          min={0}
          step={0.1}
          placeholder="default"
          value={temperature}
          onChange={(e) => setTemperature(e.currentTarget.value)}
        />
      </label>
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
