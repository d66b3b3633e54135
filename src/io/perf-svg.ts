/**
 * The `perf --svg` plot: goodput against transfer size (log scale), the simulated curve beside
 * the pcie-bench model's ceiling. A self-contained SVG with no scripts or external references.
 */

/** One point of the plot. */
export interface PerfPoint {
  readonly size: number;
  readonly goodputGbps: number;
  readonly modelGbps: number | undefined;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 60 };

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}M`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}

/**
 * Renders the plot.
 * @param points at least one point, sizes ascending.
 * @param title shown at the top.
 */
export function renderPerfSvg(points: readonly PerfPoint[], title: string): string {
  const sizes = points.map((p) => p.size);
  const minLog = Math.log2(Math.min(...sizes));
  const maxLog = Math.max(minLog + 1, Math.log2(Math.max(...sizes)));
  const maxY = Math.max(1, ...points.map((p) => Math.max(p.goodputGbps, p.modelGbps ?? 0))) * 1.1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (size: number) => MARGIN.left + ((Math.log2(size) - minLog) / (maxLog - minLog)) * plotW;
  const y = (gbps: number) => MARGIN.top + plotH - (gbps / maxY) * plotH;
  const line = (values: Array<[number, number]>, cls: string) =>
    `<polyline class="${cls}" points="${values.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")}"/>`;
  const sim = points.map((p) => [x(p.size), y(p.goodputGbps)] as [number, number]);
  const model = points.filter((p) => p.modelGbps !== undefined).map((p) => [x(p.size), y(p.modelGbps as number)] as [number, number]);
  const yTicks = Array.from({ length: 6 }, (_, i) => (maxY / 5) * i);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    "<style>.sim{fill:none;stroke:#1f77b4;stroke-width:2}.model{fill:none;stroke:#d62728;stroke-width:1.5;stroke-dasharray:6 4}.axis{stroke:#333}.grid{stroke:#ddd}</style>",
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    ...yTicks.map(
      (v) =>
        `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/><text x="${MARGIN.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(0)}</text>`,
    ),
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}"/>`,
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}"/>`,
    ...points.map((p) => `<text x="${x(p.size).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${formatSize(p.size)}</text>`),
    `<text x="${WIDTH / 2}" y="${HEIGHT - 14}" text-anchor="middle">transfer size (bytes, log scale)</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">goodput (Gb/s)</text>`,
    model.length > 0 ? line(model, "model") : "",
    line(sim, "sim"),
    ...sim.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="#1f77b4"/>`),
    `<g transform="translate(${MARGIN.left + 12} ${MARGIN.top + 8})"><line class="sim" x1="0" x2="24" y1="0" y2="0"/><text x="30" y="4">p2psim (simulated)</text>${model.length > 0 ? '<line class="model" x1="0" x2="24" y1="18" y2="18"/><text x="30" y="22">pcie-bench model ceiling</text>' : ""}</g>`,
    "</svg>",
    "",
  ].join("\n");
}
