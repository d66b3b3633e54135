import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { it } from "vitest";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { loadScenario, type LoadedScenario } from "../../src/scenario/load-scenario.js";
import { runScenario } from "../../src/scenario/run-scenario.js";

const DIR = join(import.meta.dirname, "..", "..", "scenarios");
function load(text: string): LoadedScenario {
  const file = join(DIR, "inline.yaml");
  const read = (p: string) => { const path = resolve(dirname(file), p); return { file: path, text: readFileSync(path, "utf8") }; };
  const loaded = loadScenario(text, file, read);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.loaded;
}
const scenario = (op: string, faults: string, count = 32) => `
name: t
goal: g
method: m
topology: topologies/one-switch.json
exports:
  - { device: gpu0, bar: 1 }
workloads:
  - { kind: rdma-stream, nic: nic0, op: ${op}, count: ${count}, bytes: 4096, depth: 8, cq: { placement: host } }
faults: ${faults}
budget: { safetyUs: 20, livenessUs: 20000 }
`;
it("explore", () => {
  for (const [op, faults, count] of [["write", "[]", 200], ["write", "[{ fault: link-retrain, target: nic0, width: 4, atUs: 4 }]", 200], ["read", "[{ fault: link-down, target: gpu0, atUs: 4, durationUs: 5 }]", 32], ["read", "[{ fault: completion-timeout, target: gpu0, atUs: 4, durationUs: 3 }]", 32]] as const) {
    const rec = new TraceRecorder();
    const r = runScenario(load(scenario(op, faults, count)), { sinks: [(e) => rec.events.push(e)] });
    console.log("\n"+op, faults, r.verdict, r.fingerprint, JSON.stringify(r.measurements), JSON.stringify(r.faults), JSON.stringify(r.violations.map(v => [v.invariant, v.message])), r.workloads);
    const interesting = rec.events.filter((e) => !(e.layer === "pci" && e.kind === "tlp") && e.t >= 3_900_000 && e.t < 60_000_000).slice(0, 60);
    for (const e of interesting) console.log(JSON.stringify(e));
  }
});
