// The rolling history (`GET api/metrics`) turned into chart rows: rates per second from
// each sample's interval, and per-key series for the busiest targets and callers.
import type { Sample } from "./types";
import { PALETTE, type Series } from "./components/Chart";

export interface Rows {
  data: (number | null)[][];
  series: Series[];
}

const perSecond = (n: number, s: Sample) => (n * 1000) / Math.max(1, s.interval_ms);

/** One series per key of `pick` (at most `max`, the busiest), as requests/s. */
export function byKey(samples: Sample[], pick: (s: Sample) => Record<string, { requests: number }>, max = 6): Rows {
  const totals = new Map<string, number>();
  for (const s of samples) {
    for (const [k, c] of Object.entries(pick(s))) totals.set(k, (totals.get(k) ?? 0) + c.requests);
  }
  const keys = [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, max)
    .map(([k]) => k)
    .sort();
  const xs = samples.map((s) => s.at / 1000);
  const rows = keys.map((k) => samples.map((s) => perSecond(pick(s)[k]?.requests ?? 0, s)));
  return { data: [xs, ...rows], series: keys.map((k, i) => ({ label: k, color: PALETTE[i % PALETTE.length]! })) };
}

/** Errors of each key, in the shape `byKey` reads. */
export function errorsOf(counts: Record<string, { errors: number }>): Record<string, { requests: number }> {
  return Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, { requests: c.errors }]));
}

export function rows(samples: Sample[], series: { label: string; value: (s: Sample) => number | null; dash?: boolean }[]): Rows {
  const xs = samples.map((s) => s.at / 1000);
  return {
    data: [xs, ...series.map((d) => samples.map((s) => d.value(s)))],
    series: series.map((d, i) => ({ label: d.label, color: PALETTE[i % PALETTE.length]!, dash: d.dash })),
  };
}

export { perSecond };

/** Keep at most the history window (the server keeps 15 minutes). */
export function merge(old: Sample[], fresh: Sample[], windowMs: number): Sample[] {
  const all = old.concat(fresh);
  const newest = all.length ? all[all.length - 1]!.at : 0;
  return all.filter((s) => s.at > newest - windowMs);
}
