/**
 * The perf plots: goodput against transfer size (log scale) with the pcie-bench model's ceiling
 * beside the simulated curve (`perf --svg`, and the HTML report), and latency percentiles
 * against transfer size (the HTML report). Drawn with {@link renderPlot}.
 */
import { formatSize, renderPlot } from "./svg-plot.js";

/** One point of the goodput plot. */
export interface PerfPoint {
  readonly size: number;
  readonly goodputGbps: number;
  readonly modelGbps: number | undefined;
}

/** One point of the latency plot. */
export interface LatencyPoint {
  readonly size: number;
  readonly latencyNsMedian: number;
  readonly latencyNsP99: number;
}

/** Colours shared by the plots and the report's tables. */
export const PERF_COLORS = { simulated: "#2563eb", model: "#dc2626", p99: "#d97706" } as const;

/**
 * Renders goodput against size.
 * @param points at least one point, sizes ascending.
 * @param title shown at the top.
 * @param standalone true (default) for a file of its own (with `xmlns`), false to inline in HTML.
 */
export function renderPerfSvg(points: readonly PerfPoint[], title: string, standalone = true): string {
  const model = points.filter((p): p is PerfPoint & { modelGbps: number } => p.modelGbps !== undefined);
  return `${renderPlot({
    title,
    xLabel: "transfer size (bytes, log scale)",
    yLabel: "goodput (Gb/s)",
    xScale: "log2",
    formatX: formatSize,
    className: "plot plot-goodput",
    standalone,
    series: [
      { name: "p2psim (simulated)", color: PERF_COLORS.simulated, points: points.map((p) => [p.size, p.goodputGbps] as const) },
      ...(model.length > 0
        ? [{ name: "pcie-bench model ceiling", color: PERF_COLORS.model, dashed: true, points: model.map((p) => [p.size, p.modelGbps] as const) }]
        : []),
    ],
  })}\n`;
}

/**
 * Renders the median and 99th-percentile latency against size.
 * @param points at least one point, sizes ascending.
 */
export function renderLatencySvg(points: readonly LatencyPoint[], title: string, standalone = true): string {
  return `${renderPlot({
    title,
    xLabel: "transfer size (bytes, log scale)",
    yLabel: "latency (ns)",
    xScale: "log2",
    formatX: formatSize,
    className: "plot plot-latency",
    standalone,
    series: [
      { name: "median", color: PERF_COLORS.simulated, points: points.map((p) => [p.size, p.latencyNsMedian] as const) },
      { name: "99th percentile", color: PERF_COLORS.p99, points: points.map((p) => [p.size, p.latencyNsP99] as const) },
    ],
  })}\n`;
}
