/**
 * Small topology-spec builders for the pci tests: a few lines describe a tree, `machine` builds
 * it with `buildTopology` (throwing on a bad spec, which is a bug in the test) and `pick` finds a
 * function by name.
 *
 * ```ts
 * const t = machine([hb([rootPort("rp0", [pciSwitch("s1", [[ep("a")], [ep("b")]])])])]);
 * calcMapTypeAndDist(pick(t, "a"), pick(t, "b"), t); // distance 4 through s1
 * ```
 */
import { ACS_FLAGS, type AcsFlag } from "../../src/pci/acs.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import type { PciFunction, Topology } from "../../src/pci/topology.js";
import type { FunctionSpec, HostBridgeSpec, PlatformSpec, TopologySpec } from "../../src/pci/topology-spec.js";

type Extra = Omit<Partial<FunctionSpec>, "kind" | "name" | "children">;

/** An ACS capability with every flag, and `ctl` enabled. */
export function acs(...ctl: AcsFlag[]): NonNullable<FunctionSpec["acs"]> {
  return { cap: ACS_FLAGS, ctl };
}

/** An endpoint. */
export function ep(name: string, extra: Extra = {}): FunctionSpec {
  return { kind: "endpoint", name, ...extra };
}

/** A root port with the functions on its secondary bus. */
export function rootPort(name: string, children: readonly FunctionSpec[], extra: Extra = {}): FunctionSpec {
  return { kind: "root-port", name, children, ...extra };
}

/** A PCI(e-to-PCI) bridge with the functions on its secondary bus. */
export function pciBridge(name: string, children: readonly FunctionSpec[], extra: Extra = {}): FunctionSpec {
  return { kind: "pci-bridge", name, children, ...extra };
}

/**
 * A switch: an upstream port named `name` whose downstream ports, named `name.d0`, `name.d1` …,
 * carry the given functions. `ports` applies to every downstream port.
 */
export function pciSwitch(name: string, downstream: readonly (readonly FunctionSpec[])[], extra: Extra = {}, ports: Extra = {}): FunctionSpec {
  return {
    kind: "upstream-port",
    name,
    ...extra,
    children: downstream.map((children, i) => ({ kind: "downstream-port", name: `${name}.d${i}`, children, ...ports })),
  };
}

/** A host bridge. */
export function hb(devices: readonly FunctionSpec[], extra: Omit<Partial<HostBridgeSpec>, "devices"> = {}): HostBridgeSpec {
  return { devices, ...extra };
}

/** Gives every function of a tree the full ACS capability with nothing enabled, so a test can flip `acsCtl` at run time. */
export function withAcsCap(fn: FunctionSpec): FunctionSpec {
  return { ...fn, acs: fn.acs ?? acs(), ...(fn.children ? { children: fn.children.map(withAcsCap) } : {}) };
}

/** Builds a topology, throwing on any error. */
export function machine(hostBridges: readonly HostBridgeSpec[], extra: Omit<Partial<TopologySpec>, "hostBridges"> = {}): Topology {
  const result = buildTopology({ hostBridges, ...extra });
  if (!result.ok) throw new Error(`bad test topology: ${JSON.stringify(result.errors)}`);
  return result.topology;
}

/** The function named `name` (alias or BDF), throwing when absent. */
export function pick(topology: Topology, name: string): PciFunction {
  const fn = topology.find(name);
  if (fn === undefined) throw new Error(`no function ${name} in ${topology.name}`);
  return fn;
}

/** The default platform of `buildTopology` (Intel family 6 on x86), spelled out. */
export const INTEL: PlatformSpec = { cpuVendor: "intel", cpuFamily: 6 };
/** An AMD Zen 3 CPU on x86: the host-bridge decision always allows. */
export const AMD_ZEN: PlatformSpec = { cpuVendor: "amd", cpuFamily: 0x19 };
