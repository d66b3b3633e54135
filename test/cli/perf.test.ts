import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { opsForSize, parseLinkName, parseSizes } from "../../src/cli/perf-command.js";

const MAIN = join(import.meta.dirname, "..", "..", "dist", "src", "cli", "main.js");
const p2psim = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });

describe("p2psim perf --link", () => {
  it("prints the JSON rows, matching the model in ideal mode", () => {
    const run = p2psim("perf", "--link", "gen3x8", "--op", "read", "--sizes", "64,4K", "--ideal", "--json");
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as {
      ideal: boolean;
      rows: Array<{ size: number; op: string; goodputGbps: number; modelGbps: number; transactionsPerSec: number }>;
    };
    expect(report.ideal).toBe(true);
    expect(report.rows.map((r) => [r.size, r.op, r.modelGbps])).toEqual([
      [64, "read", 44.103],
      [4096, "read", 53.69],
    ]);
    for (const row of report.rows) expect(Math.abs(row.goodputGbps / row.modelGbps - 1)).toBeLessThan(0.01);
  });

  it("writes CSV with units in the column names, and a readable table", () => {
    const csv = join(mkdtempSync(join(tmpdir(), "p2psim-perf-")), "rows.csv");
    const run = p2psim("perf", "--link", "gen4x16", "--sizes", "256", "--csv", csv);
    expect(run.status).toBe(0);
    expect(run.stdout.split("\n")[0]).toBe("gen4x16 · MPS 256 · MRRS 512 · RCB 64 · 64-bit · ECRC off · write · profile xeon-e5-v3-gen3x8");
    const lines = readFileSync(csv, "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe("size_bytes,op,goodput_gbps,goodput_gbytes_per_s,transactions_per_s,latency_ns_median,latency_ns_p99,model_gbps");
    expect(lines).toHaveLength(2);
  });

  it("refuses bad settings with exit code 2 and says what was expected", () => {
    const run = p2psim("perf", "--link", "gen9x3", "--mps", "300", "--sizes", "1x");
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([
      "p2psim perf: --link gen9x3: expected gen<1-7>x<1|2|4|8|16|32>, e.g. gen4x16",
      'p2psim perf: --sizes: "1x" is not a size (bytes, or with K, M, G suffixes)',
      "p2psim perf: --mps 300: expected 128, 256, 512, 1024, 2048 or 4096",
    ]);
  });

  it("parses links, sizes and picks enough operations", () => {
    expect(parseLinkName("Gen5x16")).toEqual({ gen: 5, lanes: 16 });
    expect(parseSizes("8,64KiB,1M,2G")).toEqual([8, 65536, 1048576, 2147483648]);
    expect([8, 4096, 2 ** 30].map(opsForSize)).toEqual([20000, 2048, 200]);
  });
});

describe("p2psim perf TOPOLOGY --from --to", () => {
  const ONE_SWITCH = join(import.meta.dirname, "..", "..", "scenarios", "topologies", "one-switch.json");
  const DUAL = join(import.meta.dirname, "..", "..", "scenarios", "topologies", "dual-socket.json");

  it("runs P2P through the switch with the map type and route in the JSON", () => {
    const run = p2psim("perf", ONE_SWITCH, "--from", "nic0", "--to", "gpu0:bar1", "--op", "read", "--sizes", "4K", "--json");
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as { mapType: string; route: string; rows: Array<{ size: number; goodputGbps: number }> };
    expect(report.mapType).toBe("bus-addr");
    expect(report.route).toBe("link 0000:02:02.0 up · switch 0000:01:00.0 (0000:02:02.0 → 0000:02:00.0) · link 0000:02:00.0 down");
    expect(report.rows[0]?.goodputGbps).toBeGreaterThan(150);
  });

  it("writes an SVG plot and runs DMA to host memory with the IOMMU", () => {
    const svg = join(mkdtempSync(join(tmpdir(), "p2psim-perf-")), "plot.svg");
    const run = p2psim("perf", DUAL, "--from", "nic0", "--to", "host", "--sizes", "64,4K", "--iommu", "4k", "--svg", svg);
    expect(run.status).toBe(0);
    expect(run.stdout.split("\n")[0]).toMatch(/^nic0 → host · host-memory · IOMMU 4k · write/);
    const text = readFileSync(svg, "utf8");
    expect(text).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(text.match(/<circle /g)).toHaveLength(2);
  });

  it("refuses unknown devices and malformed targets with exit code 2", () => {
    expect(p2psim("perf", ONE_SWITCH, "--from", "nope", "--to", "host").stderr).toMatch(/--from nope: no such function/);
    const bad = p2psim("perf", ONE_SWITCH, "--from", "nic0", "--to", "gpu0:bar9");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/has no memory BAR 9/);
    expect(p2psim("perf").stderr).toMatch(/give --link gen<N>x<W>, or topology files with --from and --to/);
  });
});
