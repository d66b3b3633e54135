/**
 * The HTML report of `p2psim perf`: goodput against transfer size with the pcie-bench model's
 * ceiling, latency percentiles against size, and the rows as a table.
 */
import { renderLatencySvg, renderPerfSvg } from "./perf-svg.js";
import { renderPage, section, table } from "./report-html.js";
import type { PerfReportInput } from "./report-input.js";
import { formatSize } from "./svg-plot.js";

/** One line naming what was measured: the link and its settings, or the path through a topology. */
export function perfSubject(p: PerfReportInput): string {
  if (p.link !== undefined) return `${p.link.name ?? `gen${p.link.gen}x${p.link.lanes}`} · MPS ${p.link.mps} · MRRS ${p.link.mrrs}`;
  return `${p.from ?? "?"} → ${p.to ?? "?"}${p.mapType ? ` · ${p.mapType}` : ""}${p.iommu ? ` · IOMMU ${p.iommu}` : ""}`;
}

/** Renders the report of a perf run. */
export function renderPerfReport(p: PerfReportInput): string {
  const rows = p.rows;
  const op = rows[0]?.op ?? "";
  const subject = perfSubject(p);
  const best = rows.reduce((a, r) => (r.goodputGbps > a.goodputGbps ? r : a), rows[0] as (typeof rows)[number]);
  const hasModel = rows.some((r) => r.modelGbps !== undefined);
  const goodput = renderPerfSvg(
    rows.map((r) => ({ size: r.size, goodputGbps: r.goodputGbps, modelGbps: r.modelGbps })),
    `goodput · ${subject} · ${op}`,
    false,
  );
  const latency = renderLatencySvg(rows, `latency · ${subject} · ${op}`, false);
  const tableHtml = table(
    [
      "size (bytes)#",
      "goodput (Gb/s)#",
      "goodput (GB/s)#",
      "transactions/s#",
      "latency median (ns)#",
      "latency p99 (ns)#",
      ...(hasModel ? ["model ceiling (Gb/s)#", "of model#"] : []),
    ],
    rows.map((r) => [
      formatSize(r.size),
      r.goodputGbps.toFixed(2),
      r.goodputGBps.toFixed(2),
      r.transactionsPerSec.toLocaleString("en"),
      r.latencyNsMedian.toFixed(1),
      r.latencyNsP99.toFixed(1),
      ...(hasModel ? [r.modelGbps?.toFixed(2) ?? "", r.modelGbps ? `${((100 * r.goodputGbps) / r.modelGbps).toFixed(1)} %` : ""] : []),
    ]),
  );
  return renderPage({
    title: `p2psim perf · ${subject}`,
    facts: [
      ["operation", op],
      ["mode", p.ideal ? "ideal (credits, tags and latency non-limiting)" : `profile ${p.profile ?? "?"}`],
      ...(p.route === undefined ? [] : [["route", p.route] as const]),
      ["sizes", String(rows.length)],
    ],
    verdict: { ok: true, neutral: true, word: "PERF", detail: `best goodput ${best.goodputGbps.toFixed(1)} Gb/s at ${formatSize(best.size)} bytes.` },
    sections: [
      section(
        "goodput",
        "Goodput against transfer size",
        `${goodput}${hasModel ? '<p class="legend-note">The dashed line is the pcie-bench analytical model’s ceiling for the same link settings.</p>' : ""}`,
      ),
      section("latency", "Latency percentiles against transfer size", latency),
      section("rows", "Measurements", tableHtml),
    ],
  });
}
