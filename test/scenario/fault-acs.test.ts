/**
 * The `acs-change` fault in a whole run [kernel.md §a.3, §a.6, §a.7]: the ACS Control write and
 * the route it changes, the stale map-type answer a later mapping gets, the fault's report, and
 * how the kernels differ (the faithful cache, the mutant that refreshes it, v4.20 without a cache);
 * with an IOMMU the existing BUS_ADDR mapping's redirected writes are blocked at the root complex.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { type LoadedScenario, loadScenario } from "../../src/scenario/load-scenario.js";
import { type RunOptions, runScenario } from "../../src/scenario/run-scenario.js";

const FILE = join(import.meta.dirname, "..", "..", "scenarios", "acs-change-stale-map-type.yaml");
const TEXT = readFileSync(FILE, "utf8");

function load(text: string): LoadedScenario {
  const read = (p: string) => {
    const path = resolve(dirname(FILE), p);
    return { file: path, text: readFileSync(path, "utf8") };
  };
  const loaded = loadScenario(text, FILE, read);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.loaded;
}

/** One run of seed 1 with the events of the ACS change and of the mappings, after setup. */
function run(options: RunOptions, text = TEXT) {
  const events: TraceEvent[] = [];
  const result = runScenario(load(text), { seed: 1, ...options, sinks: [(e) => events.push(e)] });
  const line = (e: TraceEvent) =>
    e.kind === "acs.ctl"
      ? `pci/acs.ctl ${e.port} ${JSON.stringify(e.old)} → ${JSON.stringify(e.new)} rerouted ${e.rerouted}`
      : e.kind === "route.changed"
        ? `pci/route.changed ${e.requester} → ${e.target} through the root complex: ${e.throughRootComplex}`
        : e.kind === "map-type"
          ? `p2pdma/map-type ${e.query} ${e.source} ${e.mapType}${e.staleAgainst == null ? "" : ` (stale: today ${e.staleAgainst})`}`
          : e.kind === "map"
            ? `dmabuf/map ${e.mapKind}`
            : e.kind === "map.refused"
              ? `dmabuf/map.refused ${e.errno}`
              : `${e.layer}/${e.kind}`;
  const story = events.filter((e) => /^(acs\.ctl|route\.changed|map-type|map|map\.refused)$/.test(e.kind)).map(line);
  return { result, story, events };
}

describe("acs-change-stale-map-type, seed 1", () => {
  it("default kernel: the write reroutes nic0's writes through the root complex, and the re-map gets the cached BUS_ADDR", () => {
    const { result, story, events } = run({});
    expect(story).toEqual([
      "p2pdma/map-type map_type computed bus-addr",
      "dmabuf/map bus-addr",
      'pci/acs.ctl 0000:02:02.0 [] → ["RR","CR","EC"] rerouted 1',
      "pci/route.changed nic0 → gpu0 BAR1 through the root complex: true",
      "p2pdma/map-type map_type cache bus-addr (stale: today thru-host-bridge)",
      "dmabuf/map bus-addr",
    ]);
    // Without an IOMMU the root complex forwards the redirected bus addresses to the BAR: every write lands.
    const acs = events.find((e) => e.kind === "acs.ctl") as TraceEvent;
    const after = events.filter((e) => e.t > acs.t && e.layer === "pci" && e.kind === "tlp" && e.requester === "nic0" && e.target === "gpu0 BAR1");
    expect([after.length > 0, after.every((e) => e.status === "SC")]).toEqual([true, true]);
    expect(result.violations).toEqual([]);
    expect(result.faults[0]).toMatchObject({
      fault: "acs-change",
      target: "0000:02:02.0",
      atPs: acs.t,
      result: "done",
      refused: 0,
      failedWrs: 0,
      rerouted: 1,
      staleMapTypes: 1,
      affected: true,
    });
  });

  it("mutant map-type-cache-refreshed-on-acs-change: the re-map recomputes THRU_HOST_BRIDGE, and I12 names it", () => {
    const { result, story } = run({ mutants: ["map-type-cache-refreshed-on-acs-change"] });
    expect(story.slice(4)).toEqual(["p2pdma/map-type map_type computed thru-host-bridge", "dmabuf/map direct"]);
    expect(result.violations.map((v) => [v.invariant, v.message])).toEqual([
      ["I12", "pci_p2pdma_map_type recomputed gpu0 -> nic0 (thru-host-bridge) although its cache holds bus-addr"],
    ]);
    expect(result.faults[0]).toMatchObject({ rerouted: 1, staleMapTypes: 0, affected: true });
  });

  it("profile p2pdma-v4.20 (no cache): the re-map recomputes, rejects the redirect (E26), the map fails EINVAL and I9 names it", () => {
    const { result, story } = run({ profile: "p2pdma-v4.20" });
    expect(story.slice(4)).toEqual(["p2pdma/map-type map_type computed not-supported", "dmabuf/map.refused EINVAL"]);
    expect(result.violations.map((v) => [v.invariant, v.message])).toEqual([
      [
        "I9",
        "p2pdma (p2pdma-v4.20) answered NOT_SUPPORTED for gpu0 -> nic0, but with common upstream 0000:01:00.0, ACS redirect on 0000:02:02.0 and the host bridge forwards P2P the answer is THRU_HOST_BRIDGE",
      ],
    ]);
  });

  it("with an IOMMU the existing BUS_ADDR mapping's redirected writes reach it and are blocked (lost silently): I11 names the kernel's hazard", () => {
    const { result, events } = run({}, TEXT.replace("kernel:", "iommu: true\nkernel:"));
    const acs = events.find((e) => e.kind === "acs.ctl") as TraceEvent;
    const firstFault = events.find((e) => e.kind === "iommu.fault") as TraceEvent;
    expect([firstFault.t > acs.t, firstFault.requester, firstFault.tlp, firstFault.fault]).toEqual([true, "nic0", "MWr", "unmapped"]);
    expect(result.violations.map((v) => v.invariant)).toEqual(["I11"]);
    expect(result.violations[0]?.message).toMatch(
      /^nic0 MWr at bus address 0x[0-9a-f]+ of its BUS_ADDR mapping of gpu0\/bar1#0 went through the IOMMU \(unmapped\)$/,
    );
    // RDMA WRITEs are posted: the NIC completes them although their data never reached the BAR.
    expect(result.faults[0]).toMatchObject({ failedWrs: 0, rerouted: 1, staleMapTypes: 1, affected: true });
    expect(result.faults[0]?.refused).toBeGreaterThan(0);
  });
});
