// A uPlot chart of time series (x: seconds since the epoch); drag to zoom calls onZoom.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

export function TimeChart(p: { id?: string; xs: number[]; series: { label: string; ys: (number | null)[] }[]; onZoom?: (from: number, to: number) => void; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const opts: uPlot.Options = {
      width: Math.max(400, el.current.clientWidth || 900), height: p.height ?? 360,
      series: [{}, ...p.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
      scales: { x: { time: true } },
      hooks: {
        setSelect: [(u: uPlot) => {
          if (u.select.width < 2 || !p.onZoom) return;
          p.onZoom(u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x"));
        }],
      },
    };
    const plot = new uPlot(opts, [p.xs, ...p.series.map((s) => s.ys)] as uPlot.AlignedData, el.current);
    return () => plot.destroy();
  }, [p.xs, p.series]);
  return <div class="chart" id={p.id} data-points={p.xs.length} ref={el} />;
}
