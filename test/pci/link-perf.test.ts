/**
 * The transport against the pcie-bench model (ideal mode) and against the measured behaviour the
 * platform profile encodes (realistic mode) [pcie-timing.md §3-§5].
 */
import { describe, expect, it } from "vitest";
import type { LinkWidth, PayloadSize, PcieGen } from "../../src/pci/dllp-limits.js";
import { type DmaOp, runLinkPerf } from "../../src/pci/link-perf.js";
import { type LinkConfig, modelRead, modelReadWrite, modelWrite, type ReadCompletionBoundary } from "../../src/pci/pcie-model.js";
import { XEON_E5_V3_GEN3X8 } from "../../src/pci/perf-platform.js";

const MODEL = { write: modelWrite, read: modelRead, rw: modelReadWrite } as const;
const GEN3X8: LinkConfig = { gen: 3, lanes: 8, mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false };

/** Operations per run: enough bytes that the first TLP's startup is far below 1 %. */
const opsFor = (size: number) => Math.max(400, Math.ceil(2 ** 22 / size));

/**
 * A broad table: every generation 1-5 × widths x1-x16, and for each, MPS, MRRS, RCB chunking,
 * address width, ECRC, operation and size rotating with different periods so that every value of
 * every parameter meets many values of the others. MRRS is at least MPS here (see the next test).
 */
function agreementTable(): Array<{ link: LinkConfig; op: DmaOp; size: number }> {
  const gens: PcieGen[] = [1, 2, 3, 4, 5];
  const widths: LinkWidth[] = [1, 2, 4, 8, 16];
  const mpsValues: PayloadSize[] = [128, 256, 512, 1024];
  const mrrsValues: PayloadSize[] = [128, 256, 512, 1024, 2048, 4096];
  const sizes = [8, 64, 100, 256, 1500, 4096, 9000, 65536];
  const ops: DmaOp[] = ["write", "read", "rw"];
  const rcbs: ReadCompletionBoundary[] = [64, 128];
  const rows: Array<{ link: LinkConfig; op: DmaOp; size: number }> = [];
  let k = 0;
  for (const gen of gens) {
    for (const lanes of widths) {
      for (let j = 0; j < 6; j++, k++) {
        const mps = mpsValues[k % 4] as PayloadSize;
        const mrrs = Math.max(mps, mrrsValues[(k * 5) % 6] as number) as PayloadSize;
        const link: LinkConfig = {
          gen,
          lanes,
          mps,
          mrrs,
          rcb: rcbs[k % 2] as ReadCompletionBoundary,
          rcbChunks: k % 3 === 0,
          addressBits: k % 5 < 2 ? 32 : 64,
          ecrc: k % 7 < 3,
        };
        rows.push({ link, op: ops[k % 3] as DmaOp, size: sizes[(k * 3) % sizes.length] as number });
      }
    }
  }
  return rows;
}

describe("ideal mode agrees with the pcie-bench model", () => {
  it("reproduces the §4 table (Gen3 x8, MPS 256, MRRS 512) to 0.2 %", () => {
    for (const size of [64, 128, 256, 512, 1024, 1500, 2048, 4096]) {
      for (const op of ["write", "read", "rw"] as const) {
        const simulated = runLinkPerf({ link: GEN3X8, op, sizeBytes: size, ops: opsFor(size), ideal: true, platform: XEON_E5_V3_GEN3X8 });
        expect(Math.abs(simulated.goodputGbps / MODEL[op](GEN3X8, size).goodputGbps - 1)).toBeLessThan(0.002);
        expect(simulated.conserved).toBe(true);
      }
    }
  });

  it("is within 1 % across generations, widths, MPS, MRRS, RCB chunking, address widths, ECRC, operations and sizes", () => {
    const table = agreementTable();
    expect(table).toHaveLength(150);
    const misses = table.flatMap(({ link, op, size }) => {
      const simulated = runLinkPerf({ link, op, sizeBytes: size, ops: opsFor(size), ideal: true, platform: XEON_E5_V3_GEN3X8 }).goodputGbps;
      const model = MODEL[op](link, size).goodputGbps;
      return Math.abs(simulated / model - 1) <= 0.01 ? [] : [{ link, op, size, simulated, model }];
    });
    expect(misses).toEqual([]);
  });

  it("departs from the model where the model is not physical: completions never exceed the request (MRRS < MPS)", () => {
    const link: LinkConfig = { ...GEN3X8, mps: 512, mrrs: 128 };
    const simulated = runLinkPerf({ link, op: "read", sizeBytes: 4096, ops: 256, ideal: true, platform: XEON_E5_V3_GEN3X8 }).goodputGbps;
    // The model counts ceil(S/MPS) completions; a completer cannot return more than the 128 bytes
    // each request asked for, so the simulation pays ceil(S/MRRS) completion headers.
    const perCompletion = (payload: number) => (payload / (payload + 20)) * 57.88 * (1 - 0);
    expect(simulated).toBeCloseTo(perCompletion(128) * (1 - 0), 0);
    expect(modelRead(link, 4096).goodputGbps).toBeGreaterThan(simulated * 1.1);
  });
});

describe("realistic mode (profile xeon-e5-v3-gen3x8)", () => {
  const run = (op: DmaOp, size: number, overrides: Partial<typeof XEON_E5_V3_GEN3X8> = {}, ops = 400) =>
    runLinkPerf({ link: GEN3X8, op, sizeBytes: size, ops, ideal: false, platform: { ...XEON_E5_V3_GEN3X8, ...overrides } });

  it("gives a 64 B DMA read latency of about 546 ns unloaded (§5 row 1)", () => {
    const unloaded = run("read", 64, { windowBytes: 64 }, 100);
    expect(unloaded.latencyNsMedian).toBeGreaterThan(530);
    expect(unloaded.latencyNsMedian).toBeLessThan(560);
  });

  it("limits reads to tags × MRRS per round trip when tags are few, and to the link when they are not", () => {
    const rtt = run("read", 64, { windowBytes: 64 }, 100).latencyNsMedian;
    const rows = [1, 2, 4, 8, 32].map((tags) => run("read", 4096, { tags }).goodputGbps);
    // One 512 B request per tag per round trip: the 64 B round trip less the once-per-op issue
    // latency (66 ns), plus the 448 B more of completion on the wire (~62 ns at 57.9 Gb/s).
    const perTag = (512 * 8) / (rtt - 66 + 62);
    expect(rows[0]).toBeGreaterThan(perTag * 0.97);
    expect(rows[0]).toBeLessThan(perTag * 1.03);
    expect((rows[1] as number) / (rows[0] as number)).toBeCloseTo(2, 1);
    expect((rows[2] as number) / (rows[0] as number)).toBeCloseTo(4, 1);
    expect(rows[4]).toBeCloseTo(modelRead(GEN3X8, 4096).goodputGbps, 0);
  });

  it("limits writes to posted credits per credit round trip, and balances credits after the run", () => {
    const few = run("write", 4096, { rootPortCredits: { ...XEON_E5_V3_GEN3X8.rootPortCredits, posted: { header: 2, data: 32 } } });
    const many = run("write", 4096);
    expect(many.goodputGbps).toBeCloseTo(modelWrite(GEN3X8, 4096).goodputGbps, 0);
    // 512 B of posted credit per credit round trip (hop, UpdateFC delay, serialization): about 25 Gb/s.
    expect(few.goodputGbps).toBeLessThan(many.goodputGbps * 0.6);
    expect(few.conserved && many.conserved).toBe(true);
  });
});
