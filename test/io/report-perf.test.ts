import { describe, expect, it } from "vitest";
import { renderPerfSvg } from "../../src/io/perf-svg.js";
import { renderPerfReport } from "../../src/io/report-perf.js";
import { formatSize, niceStep, renderPlot } from "../../src/io/svg-plot.js";
import { PERF, parseSvg, svgs, tableAfter } from "./report-fixtures.js";

describe("renderPerfReport", () => {
  const html = renderPerfReport(PERF);

  it("draws goodput with the model ceiling and latency percentiles, each with titled axes and units", () => {
    const [goodput] = svgs(html, "plot plot-goodput");
    const [latency] = svgs(html, "plot plot-latency");
    for (const svg of [goodput, latency]) parseSvg(svg as string);
    expect(goodput).toContain('class="x-label"');
    expect(goodput).toMatch(/>transfer size \(bytes, log scale\)</);
    expect(goodput).toMatch(/>goodput \(Gb\/s\)</);
    expect(latency).toMatch(/>latency \(ns\)</);
    const series = (svg: string) =>
      [...svg.matchAll(/<g class="series" data-series="([^"]+)"><polyline[^>]*points="([^"]+)"/g)].map((m) => [m[1], (m[2] ?? "").split(" ").length]);
    expect(series(goodput as string)).toEqual([
      ["p2psim (simulated)", 3],
      ["pcie-bench model ceiling", 3],
    ]);
    expect(series(latency as string)).toEqual([
      ["median", 3],
      ["99th percentile", 3],
    ]);
    expect([...(goodput as string).matchAll(/class="x-tick"[^>]*>([^<]+)</g)].map((m) => m[1])).toEqual(["64", "256", "4K"]);
    expect(goodput).toContain('stroke-dasharray="7 5"');
  });

  it("lists the rows with the share of the model ceiling, under a neutral banner", () => {
    expect(tableAfter(html, '<section id="rows">')).toEqual([
      ["64", "106.80", "13.35", "208,622,606", "2162.9", "2226.2", "165.40", "64.6 %"],
      ["256", "207.70", "25.96", "101,396,447", "2178.8", "2178.8", "207.90", "99.9 %"],
      ["4K", "207.80", "25.97", "6,340,234", "2326.5", "2326.5", "207.90", "100.0 %"],
    ]);
    expect(html).toContain(
      '<div class="banner neutral" id="verdict" data-verdict="perf"><span class="word">PERF</span><span>best goodput 207.8 Gb/s at 4K bytes.</span>',
    );
    expect(html).not.toMatch(/<script|https?:\/\//);
  });

  it("names a topology-form run by its path", () => {
    const { link: _l, ...rest } = PERF;
    const rows = PERF.rows.map(({ modelGbps: _m, ...r }) => r);
    const page = renderPerfReport({ ...rest, rows, from: "nic0", to: "gpu0:bar1", mapType: "bus-addr", iommu: "off", route: "nic0 → s0 → gpu0" });
    expect(page).toContain("<title>p2psim perf · nic0 → gpu0:bar1 · bus-addr · IOMMU off</title>");
    expect(page).not.toContain("pcie-bench analytical model");
  });
});

describe("svg-plot", () => {
  it("keeps the standalone perf --svg file a valid SVG document with xmlns", () => {
    const svg = renderPerfSvg([{ size: 64, goodputGbps: 10, modelGbps: undefined }], "t");
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" class="plot plot-goodput"')).toBe(true);
    parseSvg(svg);
    expect(svg).not.toContain("pcie-bench model ceiling");
  });

  it("picks 1-2-5 steps and writes sizes as the perf tables do", () => {
    expect([niceStep(230, 5), niceStep(2400, 5), niceStep(0.9, 5), niceStep(7, 8)]).toEqual([50, 500, 0.2, 1]);
    expect([64, 1024, 4096, 1536, 2 ** 20].map(formatSize)).toEqual(["64", "1K", "4K", "1536", "1M"]);
  });

  it("a linear plot puts y ticks from 0 to a round top above the data", () => {
    const svg = renderPlot({
      xLabel: "x (s)",
      yLabel: "y (m)",
      xScale: "linear",
      series: [
        {
          name: "s",
          color: "#000",
          points: [
            [0, 0],
            [10, 42],
          ],
        },
      ],
    });
    expect([...svg.matchAll(/class="y-tick"[^>]*>([^<]+)</g)].map((m) => m[1])).toEqual(["0", "10", "20", "30", "40", "50"]);
  });
});
