/**
 * A small line plot in SVG: a linear or base-2 logarithmic x axis, a linear y axis from zero,
 * grid lines, tick labels, axis titles with their units, one polyline per series (solid or
 * dashed) and a legend. Pure text out: no scripts, no external references, so the same markup
 * serves a standalone `.svg` file (`perf --svg`) and a plot inlined in the HTML report.
 */

/** One series of points, drawn in order. */
export interface PlotSeries {
  /** The legend entry. */
  readonly name: string;
  readonly points: ReadonlyArray<readonly [x: number, y: number]>;
  /** CSS colour of the line and markers. */
  readonly color: string;
  /** Dashed line without markers: a reference curve such as a model ceiling. */
  readonly dashed?: boolean;
}

/** What to draw. */
export interface PlotSpec {
  readonly title?: string;
  /** The x axis title, with its unit, e.g. `transfer size (bytes, log scale)`. */
  readonly xLabel: string;
  /** The y axis title, with its unit, e.g. `goodput (Gb/s)`. */
  readonly yLabel: string;
  /** `log2`: the x values must be positive; ticks at the x values of the first series. */
  readonly xScale: "linear" | "log2";
  readonly series: readonly PlotSeries[];
  /** Tick label of an x value (default: the number). */
  readonly formatX?: (x: number) => string;
  readonly width?: number;
  readonly height?: number;
  /** Class on the root element, so a page can find its plots. */
  readonly className?: string;
  /** Adds `xmlns` for a standalone file. */
  readonly standalone?: boolean;
}

const MARGIN = { left: 72, right: 24, top: 44, bottom: 58 };

/** Escapes text for XML and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** `64`, `4K`, `2M`: a byte count as the perf tables write it. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}M`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}

/** A "nice" step (1, 2 or 5 × 10^k) giving about `count` intervals up to `max`. */
export function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

function tickText(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString("en") : value.toPrecision(3);
}

/**
 * Renders the plot as one `<svg>` element.
 * @param spec at least one series with at least one point; with `log2`, positive x values.
 */
export function renderPlot(spec: PlotSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 400;
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map(([x]) => (spec.xScale === "log2" ? Math.log2(x) : x));
  const xMin = Math.min(...xs);
  const xMax = Math.max(xMin + 1, ...xs);
  const step = niceStep(Math.max(1e-9, ...all.map(([, y]) => y)) * 1.05, 5);
  const yMax = Math.max(step, Math.ceil((Math.max(0, ...all.map(([, y]) => y)) * 1.05) / step) * step);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + (((spec.xScale === "log2" ? Math.log2(x) : x) - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const f = (v: number) => v.toFixed(1);
  const formatX = spec.formatX ?? tickText;
  const xTicks = spec.xScale === "log2" ? [...new Set((spec.series[0]?.points ?? []).map(([x]) => x))] : linearTicks(xMin, xMax);
  const yTicks = Array.from({ length: Math.round(yMax / step) + 1 }, (_, i) => i * step);
  const bottom = MARGIN.top + plotH;
  const parts = [
    `<svg${spec.standalone ? ' xmlns="http://www.w3.org/2000/svg"' : ""} class="${spec.className ?? "plot"}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    spec.title === undefined
      ? ""
      : `<text class="plot-title" x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(spec.title)}</text>`,
    ...yTicks.map(
      (v) =>
        `<line stroke="#e5e7eb" x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${f(py(v))}" y2="${f(py(v))}"/><text class="y-tick" x="${MARGIN.left - 8}" y="${f(py(v) + 4)}" text-anchor="end" fill="#374151">${tickText(v)}</text>`,
    ),
    ...xTicks.map(
      (x) =>
        `<line stroke="#f3f4f6" x1="${f(px(x))}" x2="${f(px(x))}" y1="${MARGIN.top}" y2="${bottom}"/><text class="x-tick" x="${f(px(x))}" y="${bottom + 18}" text-anchor="middle" fill="#374151">${escapeXml(formatX(x))}</text>`,
    ),
    `<line class="axis x-axis" stroke="#111827" x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${bottom}" y2="${bottom}"/>`,
    `<line class="axis y-axis" stroke="#111827" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${bottom}"/>`,
    `<text class="x-label" x="${MARGIN.left + plotW / 2}" y="${height - 14}" text-anchor="middle" fill="#111827">${escapeXml(spec.xLabel)}</text>`,
    `<text class="y-label" transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#111827">${escapeXml(spec.yLabel)}</text>`,
    ...spec.series.map((s) => seriesMarkup(s, px, py)),
    // Bottom right: goodput and latency curves both stay clear of it.
    legend(spec.series, width - MARGIN.right - 210, bottom - 12 - 18 * spec.series.length),
    "</svg>",
  ];
  return parts.filter((p) => p !== "").join("\n");
}

function linearTicks(min: number, max: number): number[] {
  const step = niceStep(max - min, 6);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

function seriesMarkup(s: PlotSeries, px: (x: number) => number, py: (y: number) => number): string {
  const points = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
  const dash = s.dashed ? ' stroke-dasharray="7 5"' : "";
  const markers = s.dashed ? [] : s.points.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.2" fill="${s.color}"/>`);
  return [
    `<g class="series" data-series="${escapeXml(s.name)}">`,
    `<polyline fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 1.6 : 2.2}"${dash} points="${points}"/>`,
    ...markers,
    "</g>",
  ].join("");
}

function legend(series: readonly PlotSeries[], x: number, y: number): string {
  const rows = series.map(
    (s, i) =>
      `<line x1="0" x2="26" y1="${i * 18}" y2="${i * 18}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="7 5"' : ""}/><text x="32" y="${i * 18 + 4}" fill="#111827">${escapeXml(s.name)}</text>`,
  );
  return `<g class="legend" transform="translate(${x} ${y})">${rows.join("")}</g>`;
}
