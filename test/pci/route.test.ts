import { describe, expect, it } from "vitest";
import { ACS_RR } from "../../src/pci/acs.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { dualSocket, hostBridge, leaf, oneSwitch, pcieSwitch, rootPort } from "../../src/pci/builders.js";
import { decodeAddress, describeRoute, routeRequest } from "../../src/pci/route.js";
import type { PciFunction, Topology } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";

function build(spec: TopologySpec): Topology {
  const result = buildTopology(spec);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.topology;
}
const fn = (t: Topology, key: string) => t.find(key) as PciFunction;
const bar = (f: PciFunction) => ({ kind: "bar" as const, fn: f, bar: f.bars[0] as NonNullable<PciFunction["bars"][0]> });

describe("routeRequest", () => {
  const t = build(oneSwitch(["gpu", "nic"]));
  const gpu = fn(t, "gpu0");
  const nic = fn(t, "nic0");

  it("turns a BUS_ADDR request around in the common switch, and returns completions the same way", () => {
    const route = routeRequest(nic, bar(gpu));
    expect(describeRoute(route.request)).toBe("link 0000:02:01.0 up · switch 0000:01:00.0 (0000:02:01.0 → 0000:02:00.0) · link 0000:02:00.0 down");
    expect(describeRoute(route.completion)).toBe("link 0000:02:00.0 up · switch 0000:01:00.0 (0000:02:00.0 → 0000:02:01.0) · link 0000:02:01.0 down");
    expect([route.throughRootComplex, route.turn]).toEqual([false, "switch 0000:01:00.0"]);
  });

  it("sends requests to host memory up through every link to the root complex", () => {
    expect(describeRoute(routeRequest(gpu, { kind: "host-memory", numaNode: 0 }).request)).toBe(
      "link 0000:02:00.0 up · switch 0000:01:00.0 (0000:02:00.0 → 0000:01:00.0) · link 0000:00:01.0 up · root complex hb0",
    );
  });

  it("redirects upstream when the ingress downstream port has ACS Request Redirect", () => {
    fn(t, "0000:02:01.0").acsCtl |= ACS_RR;
    const route = routeRequest(nic, bar(gpu));
    expect(describeRoute(route.request)).toBe(
      "link 0000:02:01.0 up · switch 0000:01:00.0 (0000:02:01.0 → 0000:01:00.0) · link 0000:00:01.0 up · root complex hb0 · link 0000:00:01.0 down · switch 0000:01:00.0 (0000:01:00.0 → 0000:02:00.0) · link 0000:02:00.0 down",
    );
    expect(route.throughRootComplex).toBe(true);
    // The other direction is not redirected: RR acts on the port where the request enters.
    expect(routeRequest(gpu, bar(nic)).throughRootComplex).toBe(false);
    fn(t, "0000:02:01.0").acsCtl = 0;
  });

  it("goes through the root complex between root ports and host bridges", () => {
    const d = build(dualSocket());
    expect(describeRoute(routeRequest(fn(d, "gpu0"), bar(fn(d, "gpu1"))).request)).toBe("link 0000:00:01.0 up · root complex hb0 · link 0000:80:01.0 down");
    const nested = build({ hostBridges: [hostBridge("hb0", 0, [rootPort(pcieSwitch([pcieSwitch([leaf("gpu", "a")]), leaf("nic", "b")]))])] });
    expect(routeRequest(fn(nested, "a"), bar(fn(nested, "b"))).turn).toBe("switch 0000:01:00.0");
    expect(routeRequest(fn(nested, "a"), bar(fn(nested, "b"))).request).toHaveLength(5);
  });

  it("keeps requests between functions of one device inside the device", () => {
    const m = build({ hostBridges: [{ devices: [rootPort({ ...leaf("nic", "p0") }), { ...leaf("nic", "p1"), slot: 1, function: 1 }] }] });
    expect(routeRequest(fn(m, "p0"), bar(fn(m, "p0"))).request).toEqual([]);
  });
});

describe("decodeAddress", () => {
  it("finds the BAR that decodes a bus address, and host memory elsewhere", () => {
    const t = build(oneSwitch(["gpu", "nic"]));
    const gpu = fn(t, "gpu0");
    const bar1 = gpu.bars[1] as NonNullable<PciFunction["bars"][1]>;
    const inside = decodeAddress(t.functions, bar1.busAddress + bar1.sizeBytes - 1, 0);
    expect(inside.kind === "bar" && [inside.fn.id, inside.bar.index]).toEqual([gpu.id, 1]);
    const past = decodeAddress(t.functions, bar1.busAddress + bar1.sizeBytes, 0);
    expect(past.kind === "bar" && past.fn === gpu && past.bar.index === 1).toBe(false);
    expect(decodeAddress(t.functions, 0x1000, 3)).toEqual({ kind: "host-memory", numaNode: 3 });
  });
});
