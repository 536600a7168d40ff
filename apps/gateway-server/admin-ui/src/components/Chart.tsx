// A time-series chart (uPlot: small, fast, canvas-drawn). It is rebuilt only when its
// series change (a new target or caller appears), and otherwise just given new data,
// so a chart moves every few seconds without flicker.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
  dash?: boolean;
}

interface Props {
  title: string;
  /** First row: x in Unix seconds; then one row per series. */
  data: (number | null)[][];
  series: Series[];
  unit?: string;
  testId?: string;
}

export const PALETTE = ["#2f6fed", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#f08c00", "#5c7cfa"];

export function Chart({ title, data, series, unit, testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = series.map((s) => `${s.label}:${s.color}`).join("|");

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 180,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: "#667", grid: { stroke: "#eef0f4" } },
        {
          stroke: "#667",
          grid: { stroke: "#eef0f4" },
          size: 70,
          values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)}${unit ?? ""}`),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          dash: s.dash ? [6, 4] : undefined,
          fill: s.dash ? undefined : `${s.color}14`,
          spanGaps: false,
          points: { show: false },
        })),
      ],
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series change (`key`); new data goes through setData below.
  }, [key, unit]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  const points = data[0]?.length ?? 0;
  return (
    <figure className="chart" data-testid={testId} data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-canvas" />
    </figure>
  );
}
