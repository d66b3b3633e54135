/**
 * p2pdma after an ACS change at run time [kernel.md §a.6]: the cache keeps the answer it stored
 * (the kernel has no hook that would tell it), a cache read says what today's bits would give
 * (`staleAgainst`, model-only), and the model mutant that forgets the cache on an ACS change
 * recomputes instead.
 */
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { ACS_CR, ACS_EC, ACS_RR, acsCtlWrite } from "../../src/pci/acs.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { P2pdma, type P2pdmaMutants } from "../../src/pci/p2pdma.js";
import { fn, machine } from "../support/build.js";

/** gpu0 → nic0 looked up, RR/CR/EC set on nic0's switch port, looked up again. */
function lookupAcrossAcsChange(mutants: P2pdmaMutants) {
  const topology = machine(oneSwitch());
  const engine = new Engine({ seed: 1 });
  const trace = new TraceRecorder().attach(engine.trace);
  const p2pdma = new P2pdma(topology, "current", mutants);
  p2pdma.trace = engine.trace;
  const gpu = fn(topology, "gpu0");
  const nic = fn(topology, "nic0");
  const first = p2pdma.mapType(gpu, nic);
  const port = nic.upstream;
  if (port === undefined) throw new Error("nic0 sits below a port");
  acsCtlWrite(port, ACS_RR | ACS_CR | ACS_EC, 0);
  const forgotten = p2pdma.acsChanged(port);
  const second = p2pdma.mapType(gpu, nic);
  const fresh = p2pdma.mapType(gpu, nic, { fresh: true });
  const events = trace.events.map((e) => [e.query, e.source, e.stored, e.mapType, e.staleAgainst ?? null]);
  return { answers: [first, second, fresh], forgotten, cached: p2pdma.cached(gpu, nic), events };
}

describe("the map-type cache across an ACS change", () => {
  it("faithful: the stale BUS_ADDR is returned from the cache, marked stale against THRU_HOST_BRIDGE", () => {
    expect(lookupAcrossAcsChange({})).toEqual({
      answers: ["bus-addr", "bus-addr", "thru-host-bridge"],
      forgotten: 0,
      cached: "bus-addr",
      events: [
        ["map_type", "computed", true, "bus-addr", null],
        ["map_type", "cache", false, "bus-addr", "thru-host-bridge"],
        ["fresh", "computed", false, "thru-host-bridge", null],
      ],
    });
  });

  it("mutant refreshOnAcsChange: the cache is forgotten and the next lookup recomputes THRU_HOST_BRIDGE", () => {
    expect(lookupAcrossAcsChange({ refreshOnAcsChange: true })).toEqual({
      answers: ["bus-addr", "thru-host-bridge", "thru-host-bridge"],
      forgotten: 1,
      cached: "thru-host-bridge",
      events: [
        ["map_type", "computed", true, "bus-addr", null],
        ["map_type", "computed", true, "thru-host-bridge", null],
        ["fresh", "computed", false, "thru-host-bridge", null],
      ],
    });
  });
});
