/**
 * The machine drawn as a tree in SVG, like `lspci -tv` turned into boxes: one row per host
 * bridge and per function, each function joined to its upstream bridge by a connector whose
 * thickness grows with the link width (x1 thin … x16 thick), the link and largest BAR written in
 * the box, and the exporters and importers of the scenario marked with the p2pdma map type the
 * model computed for each pair.
 */
import type { ReportFunction, ReportPair, ReportTopology } from "./report-topology.js";
import { escapeXml, formatSize } from "./svg-plot.js";

/** Colour of each map type: the caller's path at a glance. */
export const MAP_TYPE_COLORS: Readonly<Record<string, string>> = {
  "bus-addr": "#15803d",
  "thru-host-bridge": "#b45309",
  "not-supported": "#b91c1c",
};

const ROW_PX = 36;
const INDENT_PX = 30;
const CHAR_PX = 7;
const LEFT_PX = 14;

interface Row {
  readonly depth: number;
  readonly text: string;
  readonly fn?: ReportFunction;
  readonly parentRow: number | undefined;
}

/** Connector thickness for a link width: 1.5 px at x1 up to 6.5 px at x32. */
export function linkStrokePx(width: number | undefined): number {
  return width === undefined ? 1 : 1.5 + Math.log2(Math.max(1, width));
}

function describe(fn: ReportFunction): string {
  const link =
    fn.link === null
      ? ""
      : ` · Gen${fn.link.gen} x${fn.link.width}${fn.link.gen < fn.link.capGen || fn.link.width < fn.link.capWidth ? ` (cap Gen${fn.link.capGen} x${fn.link.capWidth})` : ""}`;
  const bar = [...fn.bars].sort((a, b) => b.sizeBytes - a.sizeBytes)[0];
  const bars = bar === undefined ? "" : ` · BAR${bar.index} ${formatBytes(bar.sizeBytes)}${fn.bars.length > 1 ? ` (+${fn.bars.length - 1})` : ""}`;
  const name = fn.label === fn.id ? fn.id : `${fn.label}  ${fn.id}`;
  return `${name} · ${fn.kind}${link}${bars}`;
}

/** `256M`, `64G`: BAR sizes in binary units. */
function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3}G`;
  return formatSize(bytes);
}

function rows(topology: ReportTopology): Row[] {
  const out: Row[] = [];
  const walk = (fns: readonly ReportFunction[], depth: number, parentRow: number) => {
    for (const fn of fns) {
      const index = out.length;
      out.push({ depth, text: describe(fn), fn, parentRow });
      walk(fn.children, depth + 1, index);
    }
  };
  for (const hb of topology.hostBridges) {
    const index = out.length;
    out.push({ depth: 0, text: `host bridge ${hb.id} · NUMA node ${hb.numaNode} · socket ${hb.socket}`, parentRow: undefined });
    walk(hb.functions, 1, index);
  }
  return out;
}

function badges(fn: ReportFunction, pairs: readonly ReportPair[]): string[] {
  const out: string[] = [];
  if (pairs.some((p) => p.exporter === fn.label)) out.push("exporter");
  for (const p of pairs.filter((q) => q.importer === fn.label)) out.push(`importer of ${p.exporter}: ${p.mapType}, distance ${p.distance}`);
  return out;
}

/**
 * Renders the tree. Each function is a `<g class="topo-node">` with `data-id`, `data-label` and,
 * for an importer, `data-map-type` (its first pair's), so tests and readers can find it.
 */
export function renderTopologySvg(topology: ReportTopology): string {
  const all = rows(topology);
  const badgeText = all.map((r) => (r.fn === undefined ? [] : badges(r.fn, topology.pairs)));
  const width = Math.max(
    480,
    ...all.map((r, i) => LEFT_PX + r.depth * INDENT_PX + (r.text.length + (badgeText[i] ?? []).join("  ").length + 6) * CHAR_PX + 40),
  );
  const height = all.length * ROW_PX + 16;
  const y = (i: number) => 8 + i * ROW_PX;
  const parts: string[] = [
    `<svg class="topology" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="PCI topology ${escapeXml(topology.name)}">`,
  ];
  // Connectors first, so the boxes sit on top of them.
  all.forEach((r, i) => {
    if (r.parentRow === undefined) return;
    const parent = all[r.parentRow] as Row;
    const x0 = LEFT_PX + parent.depth * INDENT_PX + 10;
    const x1 = LEFT_PX + r.depth * INDENT_PX;
    const yMid = y(i) + ROW_PX / 2 - 4;
    const stroke = linkStrokePx(r.fn?.link?.width);
    parts.push(
      `<path class="topo-link" data-width="${r.fn?.link?.width ?? ""}" d="M${x0} ${y(r.parentRow) + ROW_PX - 8} V${yMid} H${x1}" fill="none" stroke="#64748b" stroke-width="${stroke.toFixed(1)}" stroke-linejoin="round"/>`,
    );
  });
  all.forEach((r, i) => {
    const x = LEFT_PX + r.depth * INDENT_PX;
    const b = badgeText[i] ?? [];
    const boxW = (r.text.length + 2) * CHAR_PX;
    const fn = r.fn;
    const importerPair = fn === undefined ? undefined : topology.pairs.find((p) => p.importer === fn.label);
    const isEndpointOfPair = b.length > 0;
    const fill = fn === undefined ? "#e2e8f0" : isEndpointOfPair ? "#eef2ff" : "#f8fafc";
    const stroke = isEndpointOfPair ? "#4f46e5" : "#94a3b8";
    const attrs =
      fn === undefined
        ? 'class="topo-host-bridge"'
        : `class="topo-node" data-id="${escapeXml(fn.id)}" data-label="${escapeXml(fn.label)}" data-kind="${escapeXml(fn.kind)}"${importerPair ? ` data-map-type="${importerPair.mapType}"` : ""}`;
    const badgeMarkup = b
      .map((text, k) => {
        const pair = text.startsWith("importer") ? topology.pairs.filter((p) => p.importer === fn?.label)[k - (b[0] === "exporter" ? 1 : 0)] : undefined;
        const color = pair ? (MAP_TYPE_COLORS[pair.mapType] ?? "#334155") : "#4f46e5";
        return `<tspan fill="${color}" font-weight="600">${k === 0 ? "" : "  "}${escapeXml(text)}</tspan>`;
      })
      .join("");
    parts.push(
      `<g ${attrs}><title>${escapeXml(fn === undefined ? r.text : `${fn.label} ${fn.id}${fn.description ? ` — ${fn.description}` : ""}`)}</title>` +
        `<rect x="${x}" y="${y(i)}" width="${boxW}" height="${ROW_PX - 8}" rx="5" fill="${fill}" stroke="${stroke}"/>` +
        `<text x="${x + CHAR_PX}" y="${y(i) + 18}" fill="#0f172a">${escapeXml(r.text)}</text>` +
        (b.length > 0 ? `<text class="topo-badge" x="${x + boxW + 10}" y="${y(i) + 18}">${badgeMarkup}</text>` : "") +
        "</g>",
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
