// Local and gateway chat side by side on one SippClient (spec: Browser Hybrid
// Endpoints). The local model runs in a worker as WebAssembly; vite.config.ts serves the
// file SIPP_MODEL names at /models/model.gguf. The gateway's URL and target come from
// the page's query string (?gateway=http://127.0.0.1:8080&target=local) or
// VITE_SIPP_GATEWAY_URL / _TARGET; the token is typed in and read per request through a
// valueProvider, so no credential is ever built into the bundle.
import { useMemo, useRef } from "react";
import { SippClient } from "@sipp/sipp";
import { Chat } from "./Chat";

const params = new URLSearchParams(window.location.search);
const gatewayUrl = params.get("gateway") ?? import.meta.env.VITE_SIPP_GATEWAY_URL ?? "http://127.0.0.1:8080";
const target = params.get("target") ?? import.meta.env.VITE_SIPP_GATEWAY_TARGET ?? "local";

export function App(): React.JSX.Element {
  const client = useMemo(() => new SippClient(), []);
  const token = useRef<HTMLInputElement>(null);

  return (
    <main>
      <h1>Sipp in the browser</h1>
      <p>
        Cross-origin isolated: <b data-testid="isolated">{String(window.crossOriginIsolated)}</b>
      </p>
      <div className="side-by-side">
        <Chat
          id="local"
          title="Browser local"
          client={client}
          connect={() =>
            client.add("browser-local", {
              kind: "local",
              source: "/models/model.gguf",
              options: { runtime: { context: { n_ctx: 2048 } } },
            })
          }
          describe={(ref) => {
            // pthread with a thread per core (at most 4) when the page is cross-origin isolated.
            const info = client.endpointInfo(ref);
            return `${String(info.runtime)}, ${String(info.threads)} thread(s), ${String(info.executionMode)}`;
          }}
        />
        <Chat
          id="gateway"
          title={`Gateway (${target} at ${gatewayUrl})`}
          client={client}
          connect={() =>
            client.add("gateway", {
              kind: "gateway",
              target,
              baseUrl: gatewayUrl,
              authentication: { kind: "bearer", valueProvider: () => token.current?.value ?? "" },
            })
          }
        >
          <label>
            Gateway token <input data-testid="gateway-token" ref={token} type="password" autoComplete="off" />
          </label>
        </Chat>
      </div>
      <style>{`
        main { font-family: system-ui, sans-serif; margin: 2rem; }
        .side-by-side { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
        .panel { border: 1px solid #ccc; border-radius: 8px; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
        output { white-space: pre-wrap; min-height: 4rem; background: #f6f6f6; padding: .5rem; }
        .status { color: #555; font-size: .9rem; }
      `}</style>
    </main>
  );
}
