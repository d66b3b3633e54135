import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DLLP_LIMIT_ROWS, dllpLimits, LINK_WIDTHS, type LinkWidth, PAYLOAD_SIZES, PCIE_GENS, type PcieGen } from "../../src/pci/dllp-limits.js";
import {
  cpldOverheadBytes,
  GENERATION_PARAMS,
  type LinkConfig,
  linkRateGbps,
  modelFlitGen6Estimate,
  modelRead,
  modelReadWrite,
  modelWrite,
  mrdOverheadBytes,
  mwrOverheadBytes,
  tlpBandwidthGbps,
} from "../../src/pci/pcie-model.js";

const CSV_PATH = join(import.meta.dirname, "..", "..", "..", "shared", "spec", "dllp-limits.csv");
const CSV_PRESENT = existsSync(CSV_PATH);

/** Rounds to `digits` decimals, the precision the spec prints. */
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** The configuration of pcie-timing.md §4: `pcie.Cfg(3, 8, addr=64, ecrc=0, mps=256, mrrs=512, rcb=64)`. */
const GEN3_X8: LinkConfig = { gen: 3, lanes: 8, mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false };

const cfg = (overrides: Partial<LinkConfig>): LinkConfig => ({ ...GEN3_X8, ...overrides });

const SIZES_S4 = [64, 128, 256, 512, 1024, 1500, 2048, 4096];

describe("DLLP limits table [pcie-timing.md §3.2, dllp-limits.csv]", () => {
  it.skipIf(!CSV_PRESENT)(`equals dllp-limits.csv row for row${CSV_PRESENT ? "" : ` (SKIPPED: ${CSV_PATH} is absent)`}`, () => {
    const [header, ...lines] = readFileSync(CSV_PATH, "utf8").trim().split("\n");
    expect(header?.trim()).toBe("gen,lanes,mps,ack_limit,fc_update_guideline");
    expect(DLLP_LIMIT_ROWS.map((row) => row.join(","))).toEqual(lines.map((line) => line.trim()));
  });

  it("covers every generation x width x MPS exactly once, and dllpLimits returns each row", () => {
    const keys = DLLP_LIMIT_ROWS.map(([gen, lanes, mps]) => `${gen}/${lanes}/${mps}`);
    const expected = PCIE_GENS.flatMap((gen) => LINK_WIDTHS.flatMap((lanes) => PAYLOAD_SIZES.map((mps) => `${gen}/${lanes}/${mps}`)));
    expect(keys).toEqual(expected);
    for (const [gen, lanes, mps, ackLimit, fcUpdateGuideline] of DLLP_LIMIT_ROWS) {
      expect(dllpLimits(gen, lanes, mps)).toEqual({ ackLimit, fcUpdateGuideline });
    }
  });

  it("keeps the quirks: Ack differs from UpdateFC in exactly two rows, and x8 MPS 512 is below MPS 256 in every generation", () => {
    expect(DLLP_LIMIT_ROWS.filter(([, , , ack, fc]) => ack !== fc)).toEqual([
      [1, 32, 2048, 148, 248],
      [2, 32, 4096, 237, 327],
    ]);
    expect(PCIE_GENS.map((gen) => [gen, dllpLimits(gen, 8, 256).ackLimit, dllpLimits(gen, 8, 512).ackLimit])).toEqual([
      [1, 107, 86],
      [2, 158, 137],
      [3, 203, 182],
      [4, 203, 182],
      [5, 203, 182],
      [6, 203, 182],
      [7, 203, 182],
    ]);
  });

  it("holds the §3.2 summary table for Gen3 (A / F at x1, x4, x8, x16; MPS 128, 256, 512, 1024, 4096)", () => {
    const mpsColumns = [128, 256, 512, 1024, 4096] as const;
    const table = ([1, 4, 8, 16] as const).map((lanes) => [lanes, ...mpsColumns.map((mps) => dllpLimits(3, lanes, mps).ackLimit)]);
    expect(table).toEqual([
      [1, 333, 512, 655, 1167, 4239],
      [4, 169, 214, 250, 378, 1146],
      [8, 163, 203, 182, 246, 630],
      [16, 144, 168, 182, 246, 630],
    ]);
  });

  it("asserts on a combination that is not in the table", () => {
    expect(() => dllpLimits(3, 3 as LinkWidth, 256)).toThrow(/no DLLP limits for Gen3 x3 MPS 256/);
    expect(() => dllpLimits(8 as PcieGen, 8, 256)).toThrow(/no DLLP limits/);
  });
});

describe("link rates [pcie-timing.md §2, §3.2]", () => {
  it("reproduces the per-generation table: Gb/s per lane after encoding, and GB/s at x1, x4, x8, x16", () => {
    const rows = ([1, 2, 3, 4, 5] as const).map((gen) => [
      gen,
      GENERATION_PARAMS[gen].gtPerSec,
      round(linkRateGbps(gen, 1), 3),
      ...([1, 4, 8, 16] as const).map((lanes) => round(linkRateGbps(gen, lanes) / 8)),
    ]);
    expect(rows).toEqual([
      [1, 2.5, 2.0, 0.25, 1.0, 2.0, 4.0],
      [2, 5.0, 4.0, 0.5, 2.0, 4.0, 8.0],
      [3, 8.0, 7.877, 0.98, 3.94, 7.88, 15.75],
      [4, 16.0, 15.754, 1.97, 7.88, 15.75, 31.51],
      [5, 32.0, 31.508, 3.94, 15.75, 31.51, 63.02],
    ]);
  });

  it("gives Gen6 and Gen7 the raw rates of §2 and pcie-model's 242/256 after encoding", () => {
    const rows = ([6, 7] as const).map((gen) => [
      gen,
      round(linkRateGbps(gen, 1), 3),
      ...([1, 4, 8, 16] as const).map((lanes) => (GENERATION_PARAMS[gen].gtPerSec * lanes) / 8),
    ]);
    expect(rows).toEqual([
      [6, 60.5, 8, 32, 64, 128],
      [7, 121, 16, 64, 128, 256],
    ]);
  });

  it("gives R and T of every §3.2 example to 0.01 Gb/s", () => {
    const examples: Array<[PcieGen, LinkWidth, 128 | 256]> = [
      [3, 8, 256],
      [3, 8, 128],
      [4, 16, 256],
      [5, 16, 256],
      [6, 16, 256],
    ];
    const rows = examples.map(([gen, lanes, mps]) => [gen, lanes, mps, round(linkRateGbps(gen, lanes)), round(tlpBandwidthGbps(cfg({ gen, lanes, mps })))]);
    expect(rows).toEqual([
      [3, 8, 256, 63.02, 57.88],
      [3, 8, 128, 63.02, 56.67],
      [4, 16, 256, 252.06, 227.4],
      [5, 16, 256, 504.12, 454.8],
      [6, 16, 256, 968.0, 873.29],
    ]);
  });
});

describe("wire bytes per TLP [pcie-timing.md §3.3]", () => {
  it("reproduces the overhead table for every address width and ECRC setting", () => {
    const rows = ([64, 32] as const).flatMap((addressBits) =>
      [false, true].map((ecrc) => {
        const c = cfg({ addressBits, ecrc });
        return [addressBits, ecrc, mwrOverheadBytes(c), mrdOverheadBytes(c), cpldOverheadBytes(c)];
      }),
    );
    expect(rows).toEqual([
      [64, false, 24, 24, 20],
      [64, true, 28, 28, 24],
      [32, false, 20, 20, 20],
      [32, true, 24, 24, 24],
    ]);
  });

  it("gives the payload-efficiency ceilings: MWr64 84.2 / 91.4 / 95.5 %, CplD 86.5 / 92.8 / 96.2 % at MPS 128 / 256 / 512", () => {
    const rows = ([128, 256, 512] as const).map((mps) => {
      const c = cfg({ mps });
      const t = tlpBandwidthGbps(c);
      return [mps, round((100 * modelWrite(c, mps).goodputGbps) / t, 1), round((100 * modelRead(c, mps).goodputGbps) / t, 1)];
    });
    expect(rows).toEqual([
      [128, 84.2, 86.5],
      [256, 91.4, 92.8],
      [512, 95.5, 96.2],
    ]);
  });
});

describe("effective bandwidth by transfer size [pcie-timing.md §3.4, §4]", () => {
  it("reproduces the whole §4 table (Gen3 x8, MPS 256, MRRS 512) in Gb/s and GB/s", () => {
    const rows = SIZES_S4.map((size) => {
      const gbps = [modelWrite(GEN3_X8, size), modelRead(GEN3_X8, size), modelReadWrite(GEN3_X8, size)].map((m) => m.goodputGbps);
      return [size, ...gbps.flatMap((g) => [round(g), round(g / 8)])];
    });
    expect(rows).toEqual([
      [64, 42.1, 5.26, 44.1, 5.51, 33.08, 4.13],
      [128, 48.75, 6.09, 50.06, 6.26, 42.1, 5.26],
      [256, 52.92, 6.62, 53.69, 6.71, 48.75, 6.09],
      [512, 52.92, 6.62, 53.69, 6.71, 50.75, 6.34],
      [1024, 52.92, 6.62, 53.69, 6.71, 50.75, 6.34],
      [1500, 52.81, 6.6, 53.6, 6.7, 50.6, 6.32],
      [2048, 52.92, 6.62, 53.69, 6.71, 50.75, 6.34],
      [4096, 52.92, 6.62, 53.69, 6.71, 50.75, 6.34],
    ]);
  });

  it("counts wire bytes per direction as §3.4 says (tx, rx for write, read, read+write)", () => {
    const rows = [64, 256, 512, 1500, 4096].map((size) => [
      size,
      ...[modelWrite, modelRead, modelReadWrite].flatMap((model) => {
        const m = model(GEN3_X8, size);
        return [m.txBytesPerTransaction, m.rxBytesPerTransaction];
      }),
    ]);
    expect(rows).toEqual([
      // write: S + ceil(S/256)·24 | read: ceil(S/512)·24, S + ceil(S/256)·20 | read+write: both TX streams, the completions
      [64, 88, 0, 24, 84, 112, 84],
      [256, 280, 0, 24, 276, 304, 276],
      [512, 560, 0, 24, 552, 584, 552],
      [1500, 1644, 0, 72, 1620, 1716, 1620],
      [4096, 4480, 0, 192, 4416, 4672, 4416],
    ]);
  });

  it("derives transactions/s from the busier direction, and goodput = S × transactions/s", () => {
    const t = tlpBandwidthGbps(GEN3_X8);
    for (const model of [modelWrite, modelRead, modelReadWrite]) {
      for (const size of SIZES_S4) {
        const m = model(GEN3_X8, size);
        const busiest = Math.max(m.txBytesPerTransaction, m.rxBytesPerTransaction);
        expect(m.transactionsPerSec).toBeCloseTo((t * 1e9) / (8 * busiest), 3);
        expect(m.goodputGbps).toBeCloseTo((8 * size * m.transactionsPerSec) / 1e9, 9);
      }
    }
  });

  it("chops completions at the RCB when rcbChunks is set, and only then", () => {
    const rows = ([64, 128, 256, 512] as const).map((rcb) => [
      rcb,
      modelRead(cfg({ rcb, rcbChunks: true }), 1024).rxBytesPerTransaction,
      modelRead(cfg({ rcb, rcbChunks: false }), 1024).rxBytesPerTransaction,
      round(modelRead(cfg({ rcb, rcbChunks: true }), 1024).goodputGbps),
    ]);
    expect(rows).toEqual([
      [64, 1024 + 16 * 20, 1024 + 4 * 20, 44.1],
      [128, 1024 + 8 * 20, 1024 + 4 * 20, 50.06],
      [256, 1024 + 4 * 20, 1024 + 4 * 20, 53.69],
      [512, 1024 + 2 * 20, 1024 + 4 * 20, 55.71],
    ]);
  });

  it("splits reads into MRRS-sized requests", () => {
    const rows = PAYLOAD_SIZES.map((mrrs) => [mrrs, modelRead(cfg({ mrrs }), 4096).txBytesPerTransaction]);
    expect(rows).toEqual([
      [128, 32 * 24],
      [256, 16 * 24],
      [512, 8 * 24],
      [1024, 4 * 24],
      [2048, 2 * 24],
      [4096, 1 * 24],
    ]);
  });

  it("is RX-limited for reads of 8 B or more, over every generation, width, MPS and MRRS; only tiny reads are TX-limited", () => {
    for (const [gen, lanes, mps] of DLLP_LIMIT_ROWS) {
      for (const mrrs of PAYLOAD_SIZES) {
        for (const size of [8, 64, 1500, 4096, 65536]) {
          const m = modelRead(cfg({ gen, lanes, mps, mrrs }), size);
          expect(m.rxBytesPerTransaction).toBeGreaterThan(m.txBytesPerTransaction);
        }
      }
    }
    // A 1-byte read: a 24-byte MRd out, a 21-byte CplD back, so the request direction sets the rate.
    const tiny = modelRead(GEN3_X8, 1);
    expect([tiny.txBytesPerTransaction, tiny.rxBytesPerTransaction, round(tiny.goodputGbps)]).toEqual([24, 21, 2.41]);
  });

  it("shows the x8 quirk: MPS 512 is marginally below MPS 256 for transfers up to 256 B, above beyond; x16 has no such dip", () => {
    const compare = (lanes: LinkWidth) =>
      SIZES_S4.map((size) =>
        [modelWrite, modelRead, modelReadWrite].map((model) => {
          const at256 = model(cfg({ lanes, mps: 256 }), size).goodputGbps;
          const at512 = model(cfg({ lanes, mps: 512 }), size).goodputGbps;
          return at512 < at256 ? "below" : "not-below";
        }),
      );
    const below = ["below", "below", "below"];
    const notBelow = ["not-below", "not-below", "not-below"];
    expect(compare(8)).toEqual([below, below, below, notBelow, notBelow, notBelow, notBelow, notBelow]);
    expect(compare(16)).toEqual(SIZES_S4.map(() => notBelow));
    // "Marginally": the dip is T's ratio, about 1 %.
    const dip = 1 - modelWrite(cfg({ mps: 512 }), 64).goodputGbps / modelWrite(GEN3_X8, 64).goodputGbps;
    expect(round(100 * dip, 2)).toBe(0.99);
  });

  it("asserts on a bad transfer size or an unmodelled setting", () => {
    expect(() => modelWrite(GEN3_X8, 0)).toThrow(/not positive/);
    expect(() => modelRead(GEN3_X8, 1.5)).toThrow(/not an integer/);
    expect(() => modelWrite(cfg({ mps: 100 as 128 }), 64)).toThrow(/mps 100/);
    expect(() => modelRead(cfg({ rcb: 32 as 64 }), 64)).toThrow(/rcb 32/);
    expect(() => modelReadWrite(cfg({ addressBits: 48 as 64 }), 64)).toThrow(/addressBits 48/);
  });
});

describe("Gen6 FLIT-mode estimate, not the model [pcie-timing.md §3.6]", () => {
  const GEN6_X16 = cfg({ gen: 6, lanes: 16, mps: 256 });

  it("gives T6 = 944 Gb/s and the §3.6 write and read goodputs at 64, 128 and >= 256 B", () => {
    const rows = [64, 128, 256, 4096].map((size) => {
      const e = modelFlitGen6Estimate(GEN6_X16, size);
      return [size, e.tlpAreaGbps, round(e.writeGoodputGbps, 1), Math.round(e.readGoodputGbps), round(e.writeGoodputGbps / 8, 1)];
    });
    // §3.6 prints writes as 755 / 839 / 889 Gb/s (94.4 / 104.9 / 111.1 GB/s). 944 × 256/272 is 888.5 Gb/s,
    // so its 889 is the GB/s figure 111.1 × 8 rounded; the GB/s column and the other values match exactly.
    expect(rows).toEqual([
      [64, 944, 755.2, 795, 94.4],
      [128, 944, 839.1, 863, 104.9],
      [256, 944, 888.5, 902, 111.1],
      [4096, 944, 888.5, 902, 111.1],
    ]);
  });

  it("matches the §2 TLP-area rates (59.0 Gb/s per lane) and contrasts with the model's 635 / 735 / 798 Gb/s writes", () => {
    expect(([1, 4, 8, 16] as const).map((lanes) => modelFlitGen6Estimate(cfg({ gen: 6, lanes }), 64).tlpAreaGbps)).toEqual([59, 236, 472, 944]);
    expect([64, 128, 256].map((size) => Math.round(modelWrite(GEN6_X16, size).goodputGbps))).toEqual([635, 735, 798]);
  });

  it("refuses a non-FLIT generation", () => {
    expect(() => modelFlitGen6Estimate(GEN3_X8, 64)).toThrow(/Gen6 or later/);
  });
});
