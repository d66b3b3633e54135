import { describe, expect, it } from "vitest";
import { reportTopology } from "../../src/io/report-topology.js";
import { linkStrokePx, renderTopologySvg } from "../../src/io/svg-topology.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { calcMapTypeAndDist } from "../../src/pci/p2pdma.js";
import { attrs, parseSvg } from "./report-fixtures.js";

function machine(acsRedirect: boolean) {
  const built = buildTopology(oneSwitch(["gpu", "nic"], { acsRedirect }));
  if (!built.ok) throw new Error("build failed");
  return built.topology;
}

describe("reportTopology", () => {
  it("carries every function once, with link and BARs, and the pair's map type as the p2pdma walk computes it", () => {
    for (const acsRedirect of [false, true]) {
      const topology = machine(acsRedirect);
      const report = reportTopology(topology, [
        { exporter: "gpu0", importer: "nic0" },
        { exporter: "gpu0", importer: "nic0" },
        { exporter: "gpu0", importer: "nope" },
      ]);
      const walk = calcMapTypeAndDist(topology.find("gpu0") as never, topology.find("nic0") as never, topology);
      expect(report.pairs).toEqual([{ exporter: "gpu0", importer: "nic0", mapType: walk.mapType, distance: walk.distance }]);
      const ids: string[] = [];
      const visit = (fns: (typeof report.hostBridges)[number]["functions"]) => {
        for (const f of fns) {
          ids.push(f.id);
          visit(f.children);
        }
      };
      for (const hb of report.hostBridges) visit(hb.functions);
      expect(ids.sort()).toEqual(topology.functions.map((f) => f.id).sort());
    }
  });

  it("the two ACS settings give different map types (the tree shows the one the run used)", () => {
    const types = [false, true].map((acs) => reportTopology(machine(acs), [{ exporter: "gpu0", importer: "nic0" }]).pairs[0]?.mapType);
    expect(types[0]).toBe("bus-addr");
    expect(types[1]).not.toBe("bus-addr");
  });
});

describe("renderTopologySvg", () => {
  it("draws one node per function, marks exporter and importer, and connectors as thick as the link is wide", () => {
    const topology = machine(false);
    const svg = renderTopologySvg(reportTopology(topology, [{ exporter: "gpu0", importer: "nic0" }]));
    parseSvg(svg);
    expect(attrs(svg, "topo-node", "data-label").sort()).toEqual(topology.functions.map((f) => f.label).sort());
    expect([...svg.matchAll(/data-map-type="([^"]+)"/g)].map((m) => m[1])).toEqual(["bus-addr"]);
    expect(svg).toContain(">exporter</tspan>");
    expect(svg).toMatch(/importer of gpu0: bus-addr, distance \d+<\/tspan>/);
    const widths = [...svg.matchAll(/class="topo-link" data-width="(\d*)"[^>]*stroke-width="([\d.]+)"/g)].map((m) => [m[1], m[2]]);
    expect(widths.length).toBe(topology.functions.length);
    for (const [width, stroke] of widths) expect(Number(stroke)).toBe(Number(linkStrokePx(width === "" ? undefined : Number(width)).toFixed(1)));
    expect([1, 4, 16, undefined].map(linkStrokePx)).toEqual([1.5, 3.5, 5.5, 1]);
  });
});
