/**
 * `p2psim topo` end to end: the compiled command on real fixture files and on the bundled
 * topologies, checking output, exit codes and the JSON contract.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TOPOLOGY_SCHEMA } from "../../src/io/topology-schema.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MAIN = join(ROOT, "dist", "src", "cli", "main.js");
const FIXTURES = join(ROOT, "..", "shared", "fixtures", "topologies");
const ONE_SWITCH = join(ROOT, "scenarios", "topologies", "one-switch.json");
const p2psim = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });

interface TopoJson {
  devices: Array<{ id: string; bdf: string; kind: string; name: string | null; numaNode: number }>;
  pairs: Array<{ a: string; b: string; mapType: string; distance: number; nvidiaLevel: string; reason: { summary: string; rule: string } }>;
  warnings: string[];
}

describe("p2psim topo", () => {
  it("prints the tree and the pair matrix of a topology document", () => {
    const run = p2psim("topo", ONE_SWITCH, "--matrix");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("└─ 00:01.0  root-port       Intel Ice Lake PCIe root port [8086:347a]  Gen4 x16  ACS SV RR CR UF EC, ctl none");
    expect(run.stdout).toContain(["           gpu0       gpu1       nic0       nvme0", "gpu0       X          BUS 4 PIX  BUS 4 PIX  BUS 4 PIX"].join("\n"));
  });

  it("prints the JSON contract: devices, ordered pairs with reasons, warnings", () => {
    const run = p2psim("topo", ONE_SWITCH, "--json");
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as TopoJson;
    expect(report.devices.map((d) => [d.id, d.kind, d.name, d.numaNode])).toEqual([
      ["0000:03:00.0", "gpu", "gpu0", 0],
      ["0000:04:00.0", "gpu", "gpu1", 0],
      ["0000:05:00.0", "nic", "nic0", 0],
      ["0000:06:00.0", "nvme", "nvme0", 0],
    ]);
    expect(report.pairs).toHaveLength(12);
    expect(report.pairs[0]).toMatchObject({
      a: "0000:03:00.0",
      b: "0000:04:00.0",
      mapType: "bus-addr",
      distance: 4,
      nvidiaLevel: "PIX",
      reason: { rule: "common-upstream-bridge" },
    });
    expect(report.pairs[0]?.reason.summary).toBe("common upstream bridge 0000:01:00.0, no ACS redirect on the path: BUS_ADDR at distance 4");
    expect(report.warnings).toEqual([]);
  });

  it("explains one pair, and keeps the kernel's stale cached answer after an ACS change unless --fresh", () => {
    const explained = p2psim("topo", ONE_SWITCH, "--explain", "gpu0", "nic0");
    expect(explained.stdout.split("\n").slice(0, 3)).toEqual([
      "provider gpu0 (0000:03:00.0) → client nic0 (0000:05:00.0)",
      "map type bus-addr, distance 4, nvidia-smi PIX",
      "why: common upstream bridge 0000:01:00.0, no ACS redirect on the path: BUS_ADDR at distance 4",
    ]);
    const stale = JSON.parse(p2psim("topo", ONE_SWITCH, "--set-acs", "0000:02:00.0=RR", "--explain", "gpu0", "nic0", "--json").stdout) as { mapType: string };
    const fresh = JSON.parse(p2psim("topo", ONE_SWITCH, "--set-acs", "0000:02:00.0=RR", "--fresh", "--explain", "gpu0", "nic0", "--json").stdout) as {
      mapType: string;
      reason: { summary: string };
    };
    expect(stale.mapType).toBe("bus-addr");
    expect(fresh.mapType).toBe("thru-host-bridge");
    expect(fresh.reason.summary).toMatch(/^ACS redirect on 0000:02:00.0 \(common upstream bridge 0000:01:00.0\); hb0 root 0000:00:00.0 \(8086:09a2\)/);
  });

  it("applies the v4.20 profile", () => {
    const run = JSON.parse(p2psim("topo", join(ROOT, "scenarios", "topologies", "dual-socket.json"), "--json", "--profile", "p2pdma-v4.20").stdout) as TopoJson;
    expect(new Set(run.pairs.map((p) => `${p.mapType} ${p.reason.rule}`))).toEqual(new Set(["not-supported no-common-upstream-bridge"]));
  });

  it("reads every fixture, alone and with lscpu/numactl, and skips what it does not know with a warning", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-topo-"));
    const lscpu = join(dir, "lscpu.txt");
    writeFileSync(
      lscpu,
      "Architecture:            x86_64\nVendor ID:               GenuineIntel\nCPU family:              6\nModel:                   62\nSocket(s):               1\n",
    );
    const junk = join(dir, "notes.txt");
    writeFileSync(junk, "just some notes\n");
    const fixtures = [
      "lspci-asus-p9x79-e-ws-2x-pex8747/lspci-vvnn.txt",
      "lspci-gigabyte-g1-sniper-5-pex8747/lspci-vvnn.txt",
      "hwloc-supermicro-sys221h-tnr-spr-2s/lstopo.xml",
      "hwloc-v1-haswell-2s-2x-k80-pex8747/lstopo-v1.xml",
      "nccl-dgx-a100-rome-8gpu/nccl-topo.xml",
      "nccl-hgx-a100-80g-icelake-2s-cx6dx/nccl-topo.xml",
    ];
    for (const fixture of fixtures) {
      const run = p2psim("topo", join(FIXTURES, fixture), lscpu, junk, "--json", "--all");
      expect(run.status, `${fixture}: ${run.stderr}`).toBe(0);
      const report = JSON.parse(run.stdout) as TopoJson;
      expect(report.devices.length).toBeGreaterThan(2);
      expect(report.warnings.some((w) => w.startsWith(`${junk}: skipped`))).toBe(true);
    }
  });

  it("fails with exit code 2, naming file and place, on bad input", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-topo-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ hostBridges: [{ devices: [{ kind: "endpoint", bars: [{ index: 9, size: 4096 }] }] }] }));
    const run = p2psim("topo", bad);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(`p2psim topo: ${bad}: $.hostBridges[0].devices[0].bars[0].index: expected at most 5`);
    const missing = p2psim("topo", join(dir, "nope.json"));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json: cannot read: ENOENT/);
    expect(p2psim("topo", ONE_SWITCH, "--explain", "gpu0", "gpu9").status).toBe(2);
    expect(p2psim("topo", ONE_SWITCH, "--set-acs", "gpu0").status).toBe(2);
    expect(p2psim("topo", ONE_SWITCH, "--profile", "v9").status).toBe(2);
  });

  it("prints the schema, which matches the committed topology.schema.json", () => {
    const run = p2psim("schema", "topology");
    expect(JSON.parse(run.stdout)).toEqual(TOPOLOGY_SCHEMA);
    expect(JSON.parse(readFileSync(join(ROOT, "topology.schema.json"), "utf8"))).toEqual(TOPOLOGY_SCHEMA);
  });
});
