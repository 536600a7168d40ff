// The worker entry (executionMode 'auto' or 'worker'): requests from the page run on
// one Engine here, off the UI thread. Replies carry the request id they answer.
import { Engine, failureOf } from "./engine.js";
import type { Reply, Request } from "./protocol.js";

const engine = new Engine();
const post = (reply: Reply): void => (self as unknown as Worker).postMessage(reply);
// One job at a time, in arrival order; a cancel is handled at once.
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<Request>) => {
  const r = event.data;
  if (r.op === "cancel") {
    engine.cancel(r.rid);
    return;
  }
  queue = queue.then(async () => {
    try {
      if (r.op === "load") post({ op: "loaded", info: await engine.load(r.assets, r.bytes, r.settings) });
      else if (r.op === "text") {
        const done = await engine.text(r.rid, r.job, (text) => post({ op: "token", rid: r.rid, text }));
        post({ op: "done", rid: r.rid, done });
      } else if (r.op === "embed") post({ op: "embedded", rid: r.rid, ...engine.embed(r.input, r.normalize) });
      else if (r.op === "free") {
        engine.free();
        self.close();
      }
    } catch (e) {
      post({ op: "failed", rid: "rid" in r ? r.rid : null, failure: failureOf(e) });
    }
  });
};
