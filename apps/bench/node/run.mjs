// The Node benchmark's driver: @sipp/sipp-server vs the Python package vs node-llama-cpp,
// each in a process of its own (one at a time: they never share the two cores), in
// `--rounds` interleaved rounds so a noisy stretch of the machine hits every contender;
// each figure is the best seen. Writes the JSON report to --out and prints a Markdown
// table with the ratios the issue sets (≥ 0.95× Python and ≥ 1.0× node-llama-cpp at one
// stream, ≥ 1.5× node-llama-cpp at 8).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    model: { type: "string" },
    python: { type: "string" },
    out: { type: "string" },
    rounds: { type: "string", default: "2" },
    reps: { type: "string", default: "3" },
    tokens: { type: "string", default: "128" },
    threads: { type: "string", default: "2" },
  },
});
const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const common = ["--model", args.model, "--reps", args.reps, "--tokens", args.tokens, "--threads", args.threads];
const contenders = {
  sipp_node: [process.execPath, here("bench_node.mjs"), "--contender", "sipp", ...common],
  sipp_python: [args.python, here("python_contender.py"), ...common],
  node_llama_cpp: [process.execPath, here("bench_node.mjs"), "--contender", "node-llama-cpp", ...common],
};

const best = {};
for (let round = 0; round < Number(args.rounds); round++) {
  for (const [name, [cmd, ...rest]] of Object.entries(contenders)) {
    const r = spawnSync(cmd, rest, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
    if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout.trim().split("\n").pop());
    process.stderr.write(`bench: round ${round + 1} ${name}: ${report.single.tokPerS} tok/s, ${report.batched.tokPerS} tok/s at 8\n`);
    const b = (best[name] ??= { ...report });
    for (const k of ["single", "batched"]) if (report[k].tokPerS > b[k].tokPerS) b[k] = report[k];
  }
}

const ratio = (a, b) => +(a / b).toFixed(2);
const s = best.sipp_node, p = best.sipp_python, n = best.node_llama_cpp;
const ratios = {
  node_vs_python_1: ratio(s.single.tokPerS, p.single.tokPerS),
  node_vs_python_8: ratio(s.batched.tokPerS, p.batched.tokPerS),
  node_vs_node_llama_cpp_1: ratio(s.single.tokPerS, n.single.tokPerS),
  node_vs_node_llama_cpp_8: ratio(s.batched.tokPerS, n.batched.tokPerS),
};
const targets = { node_vs_python_1: 0.95, node_vs_node_llama_cpp_1: 1.0, node_vs_node_llama_cpp_8: 1.5 };
const report = { model: args.model, threads: +args.threads, maxTokens: +args.tokens, rounds: +args.rounds, reps: +args.reps, best, ratios, targets };
if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 2) + "\n");
const row = (label, r) => `| ${label} | ${r.single.tokPerS} | ${r.batched.tokPerS} |`;
console.log(
  [
    `Greedy, ${args.tokens} tokens per stream, ${args.threads} threads, best of ${args.rounds}×${args.reps}; tok/s`,
    "",
    "| contender | 1 stream | 8 streams (aggregate) |",
    "|---|---|---|",
    row("@sipp/sipp-server (Node)", s),
    row("sipp (Python)", p),
    row(`node-llama-cpp ${n.version}`, n),
    "",
    `Node / Python: ${ratios.node_vs_python_1}× at 1 (target ≥ 0.95), ${ratios.node_vs_python_8}× at 8`,
    `Node / node-llama-cpp: ${ratios.node_vs_node_llama_cpp_1}× at 1 (target ≥ 1.0), ${ratios.node_vs_node_llama_cpp_8}× at 8 (target ≥ 1.5)`,
  ].join("\n"),
);
