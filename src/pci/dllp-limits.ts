/**
 * The DLLP limits the pcie-bench model uses, per generation, width and MPS: the Ack latency limit
 * `A` and the UpdateFC guideline `F`, in symbol times [pcie-timing.md §3.1, §3.2]. The authors took
 * Gen1-Gen5 from PCIe 5.0 base-spec tables 3-7..3-9 and 2-46..2-48 and copied Gen5 into Gen6 and Gen7
 * as a guess; the model charges one 8-byte Ack per `A` bytes and one 8-byte UpdateFC per `F` bytes.
 *
 * GENERATED DATA, do not edit by hand. Generated once from ../shared/spec/dllp-limits.csv by a
 * one-off Node script that checks the CSV header is `gen,lanes,mps,ack_limit,fc_update_guideline` and
 * writes each data row, in file order, as one `[gen, lanes, mps, ackLimit, fcUpdateGuideline]`
 * tuple, then formatted with `npx biome check --write`. test/pci/pcie-model.test.ts compares this table
 * with the CSV row for row.
 *
 * Quirks are kept as the model has them, because the transport is checked against the model, not
 * against the base spec: at x8, MPS 512 has smaller limits than MPS 256 in every generation (Gen1
 * 86 < 107, Gen2 137 < 158, Gen3-7 182 < 203), so small transfers at MPS 512 come out marginally
 * slower [pcie-timing.md §3.5]; and two rows have an Ack limit different from the UpdateFC guideline
 * (Gen1 x32 MPS 2048: 148 / 248; Gen2 x32 MPS 4096: 237 / 327).
 */
import { assert } from "../fabric/assert.js";

/** PCIe generation as the model numbers it: Gen1 (2.5 GT/s) to Gen7 (128 GT/s). */
export type PcieGen = 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Negotiated link width (lanes) the model has tables for. */
export type LinkWidth = 1 | 2 | 4 | 8 | 16 | 32;

/** A Max Payload Size or Max Read Request Size setting, in bytes [pcie-timing.md §2]. */
export type PayloadSize = 128 | 256 | 512 | 1024 | 2048 | 4096;

/** Every generation the model covers, ascending. */
export const PCIE_GENS: readonly PcieGen[] = [1, 2, 3, 4, 5, 6, 7];
/** Every link width the model covers, ascending. */
export const LINK_WIDTHS: readonly LinkWidth[] = [1, 2, 4, 8, 16, 32];
/** Every MPS / MRRS setting, ascending. */
export const PAYLOAD_SIZES: readonly PayloadSize[] = [128, 256, 512, 1024, 2048, 4096];

/** One row of the table: `[gen, lanes, mps, ackLimit, fcUpdateGuideline]`, limits in symbol times. */
export type DllpLimitRow = readonly [gen: PcieGen, lanes: LinkWidth, mps: PayloadSize, ackLimit: number, fcUpdateGuideline: number];

/** The whole table, in the CSV's order (gen, then lanes, then MPS, ascending). */
export const DLLP_LIMIT_ROWS: readonly DllpLimitRow[] = [
  [1, 1, 128, 237, 237],
  [1, 1, 256, 416, 416],
  [1, 1, 512, 559, 559],
  [1, 1, 1024, 1071, 1071],
  [1, 1, 2048, 2095, 2095],
  [1, 1, 4096, 4143, 4143],
  [1, 2, 128, 128, 128],
  [1, 2, 256, 217, 217],
  [1, 2, 512, 289, 289],
  [1, 2, 1024, 545, 545],
  [1, 2, 2048, 1057, 1057],
  [1, 2, 4096, 2081, 2081],
  [1, 4, 128, 73, 73],
  [1, 4, 256, 118, 118],
  [1, 4, 512, 154, 154],
  [1, 4, 1024, 282, 282],
  [1, 4, 2048, 538, 538],
  [1, 4, 4096, 1050, 1050],
  [1, 8, 128, 67, 67],
  [1, 8, 256, 107, 107],
  [1, 8, 512, 86, 86],
  [1, 8, 1024, 150, 150],
  [1, 8, 2048, 278, 278],
  [1, 8, 4096, 534, 534],
  [1, 16, 128, 48, 48],
  [1, 16, 256, 72, 72],
  [1, 16, 512, 86, 86],
  [1, 16, 1024, 150, 150],
  [1, 16, 2048, 278, 278],
  [1, 16, 4096, 534, 534],
  [1, 32, 128, 33, 33],
  [1, 32, 256, 45, 45],
  [1, 32, 512, 52, 52],
  [1, 32, 1024, 84, 84],
  [1, 32, 2048, 148, 248],
  [1, 32, 4096, 276, 276],
  [2, 1, 128, 288, 288],
  [2, 1, 256, 467, 467],
  [2, 1, 512, 610, 610],
  [2, 1, 1024, 1122, 1122],
  [2, 1, 2048, 2146, 2146],
  [2, 1, 4096, 4194, 4194],
  [2, 2, 128, 179, 179],
  [2, 2, 256, 268, 268],
  [2, 2, 512, 340, 340],
  [2, 2, 1024, 596, 596],
  [2, 2, 2048, 1108, 1108],
  [2, 2, 4096, 2132, 2132],
  [2, 4, 128, 124, 124],
  [2, 4, 256, 169, 169],
  [2, 4, 512, 205, 205],
  [2, 4, 1024, 333, 333],
  [2, 4, 2048, 589, 589],
  [2, 4, 4096, 1101, 1101],
  [2, 8, 128, 118, 118],
  [2, 8, 256, 158, 158],
  [2, 8, 512, 137, 137],
  [2, 8, 1024, 201, 201],
  [2, 8, 2048, 329, 329],
  [2, 8, 4096, 585, 585],
  [2, 16, 128, 99, 99],
  [2, 16, 256, 123, 123],
  [2, 16, 512, 137, 137],
  [2, 16, 1024, 201, 201],
  [2, 16, 2048, 329, 329],
  [2, 16, 4096, 585, 585],
  [2, 32, 128, 84, 84],
  [2, 32, 256, 96, 96],
  [2, 32, 512, 103, 103],
  [2, 32, 1024, 135, 135],
  [2, 32, 2048, 199, 199],
  [2, 32, 4096, 237, 327],
  [3, 1, 128, 333, 333],
  [3, 1, 256, 512, 512],
  [3, 1, 512, 655, 655],
  [3, 1, 1024, 1167, 1167],
  [3, 1, 2048, 2191, 2191],
  [3, 1, 4096, 4239, 4239],
  [3, 2, 128, 224, 224],
  [3, 2, 256, 313, 313],
  [3, 2, 512, 385, 385],
  [3, 2, 1024, 641, 641],
  [3, 2, 2048, 1153, 1153],
  [3, 2, 4096, 2177, 2177],
  [3, 4, 128, 169, 169],
  [3, 4, 256, 214, 214],
  [3, 4, 512, 250, 250],
  [3, 4, 1024, 378, 378],
  [3, 4, 2048, 634, 634],
  [3, 4, 4096, 1146, 1146],
  [3, 8, 128, 163, 163],
  [3, 8, 256, 203, 203],
  [3, 8, 512, 182, 182],
  [3, 8, 1024, 246, 246],
  [3, 8, 2048, 374, 374],
  [3, 8, 4096, 630, 630],
  [3, 16, 128, 144, 144],
  [3, 16, 256, 168, 168],
  [3, 16, 512, 182, 182],
  [3, 16, 1024, 246, 246],
  [3, 16, 2048, 374, 374],
  [3, 16, 4096, 630, 630],
  [3, 32, 128, 129, 129],
  [3, 32, 256, 141, 141],
  [3, 32, 512, 148, 148],
  [3, 32, 1024, 180, 180],
  [3, 32, 2048, 244, 244],
  [3, 32, 4096, 372, 372],
  [4, 1, 128, 333, 333],
  [4, 1, 256, 512, 512],
  [4, 1, 512, 655, 655],
  [4, 1, 1024, 1167, 1167],
  [4, 1, 2048, 2191, 2191],
  [4, 1, 4096, 4239, 4239],
  [4, 2, 128, 224, 224],
  [4, 2, 256, 313, 313],
  [4, 2, 512, 385, 385],
  [4, 2, 1024, 641, 641],
  [4, 2, 2048, 1153, 1153],
  [4, 2, 4096, 2177, 2177],
  [4, 4, 128, 169, 169],
  [4, 4, 256, 214, 214],
  [4, 4, 512, 250, 250],
  [4, 4, 1024, 378, 378],
  [4, 4, 2048, 634, 634],
  [4, 4, 4096, 1146, 1146],
  [4, 8, 128, 163, 163],
  [4, 8, 256, 203, 203],
  [4, 8, 512, 182, 182],
  [4, 8, 1024, 246, 246],
  [4, 8, 2048, 374, 374],
  [4, 8, 4096, 630, 630],
  [4, 16, 128, 144, 144],
  [4, 16, 256, 168, 168],
  [4, 16, 512, 182, 182],
  [4, 16, 1024, 246, 246],
  [4, 16, 2048, 374, 374],
  [4, 16, 4096, 630, 630],
  [4, 32, 128, 129, 129],
  [4, 32, 256, 141, 141],
  [4, 32, 512, 148, 148],
  [4, 32, 1024, 180, 180],
  [4, 32, 2048, 244, 244],
  [4, 32, 4096, 372, 372],
  [5, 1, 128, 333, 333],
  [5, 1, 256, 512, 512],
  [5, 1, 512, 655, 655],
  [5, 1, 1024, 1167, 1167],
  [5, 1, 2048, 2191, 2191],
  [5, 1, 4096, 4239, 4239],
  [5, 2, 128, 224, 224],
  [5, 2, 256, 313, 313],
  [5, 2, 512, 385, 385],
  [5, 2, 1024, 641, 641],
  [5, 2, 2048, 1153, 1153],
  [5, 2, 4096, 2177, 2177],
  [5, 4, 128, 169, 169],
  [5, 4, 256, 214, 214],
  [5, 4, 512, 250, 250],
  [5, 4, 1024, 378, 378],
  [5, 4, 2048, 634, 634],
  [5, 4, 4096, 1146, 1146],
  [5, 8, 128, 163, 163],
  [5, 8, 256, 203, 203],
  [5, 8, 512, 182, 182],
  [5, 8, 1024, 246, 246],
  [5, 8, 2048, 374, 374],
  [5, 8, 4096, 630, 630],
  [5, 16, 128, 144, 144],
  [5, 16, 256, 168, 168],
  [5, 16, 512, 182, 182],
  [5, 16, 1024, 246, 246],
  [5, 16, 2048, 374, 374],
  [5, 16, 4096, 630, 630],
  [5, 32, 128, 129, 129],
  [5, 32, 256, 141, 141],
  [5, 32, 512, 148, 148],
  [5, 32, 1024, 180, 180],
  [5, 32, 2048, 244, 244],
  [5, 32, 4096, 372, 372],
  [6, 1, 128, 333, 333],
  [6, 1, 256, 512, 512],
  [6, 1, 512, 655, 655],
  [6, 1, 1024, 1167, 1167],
  [6, 1, 2048, 2191, 2191],
  [6, 1, 4096, 4239, 4239],
  [6, 2, 128, 224, 224],
  [6, 2, 256, 313, 313],
  [6, 2, 512, 385, 385],
  [6, 2, 1024, 641, 641],
  [6, 2, 2048, 1153, 1153],
  [6, 2, 4096, 2177, 2177],
  [6, 4, 128, 169, 169],
  [6, 4, 256, 214, 214],
  [6, 4, 512, 250, 250],
  [6, 4, 1024, 378, 378],
  [6, 4, 2048, 634, 634],
  [6, 4, 4096, 1146, 1146],
  [6, 8, 128, 163, 163],
  [6, 8, 256, 203, 203],
  [6, 8, 512, 182, 182],
  [6, 8, 1024, 246, 246],
  [6, 8, 2048, 374, 374],
  [6, 8, 4096, 630, 630],
  [6, 16, 128, 144, 144],
  [6, 16, 256, 168, 168],
  [6, 16, 512, 182, 182],
  [6, 16, 1024, 246, 246],
  [6, 16, 2048, 374, 374],
  [6, 16, 4096, 630, 630],
  [6, 32, 128, 129, 129],
  [6, 32, 256, 141, 141],
  [6, 32, 512, 148, 148],
  [6, 32, 1024, 180, 180],
  [6, 32, 2048, 244, 244],
  [6, 32, 4096, 372, 372],
  [7, 1, 128, 333, 333],
  [7, 1, 256, 512, 512],
  [7, 1, 512, 655, 655],
  [7, 1, 1024, 1167, 1167],
  [7, 1, 2048, 2191, 2191],
  [7, 1, 4096, 4239, 4239],
  [7, 2, 128, 224, 224],
  [7, 2, 256, 313, 313],
  [7, 2, 512, 385, 385],
  [7, 2, 1024, 641, 641],
  [7, 2, 2048, 1153, 1153],
  [7, 2, 4096, 2177, 2177],
  [7, 4, 128, 169, 169],
  [7, 4, 256, 214, 214],
  [7, 4, 512, 250, 250],
  [7, 4, 1024, 378, 378],
  [7, 4, 2048, 634, 634],
  [7, 4, 4096, 1146, 1146],
  [7, 8, 128, 163, 163],
  [7, 8, 256, 203, 203],
  [7, 8, 512, 182, 182],
  [7, 8, 1024, 246, 246],
  [7, 8, 2048, 374, 374],
  [7, 8, 4096, 630, 630],
  [7, 16, 128, 144, 144],
  [7, 16, 256, 168, 168],
  [7, 16, 512, 182, 182],
  [7, 16, 1024, 246, 246],
  [7, 16, 2048, 374, 374],
  [7, 16, 4096, 630, 630],
  [7, 32, 128, 129, 129],
  [7, 32, 256, 141, 141],
  [7, 32, 512, 148, 148],
  [7, 32, 1024, 180, 180],
  [7, 32, 2048, 244, 244],
  [7, 32, 4096, 372, 372],
];

/** The two limits the model charges DLLPs by, in symbol times. */
export interface DllpLimits {
  /** `A`: Ack latency limit; the model charges one 8-byte Ack DLLP per `A` bytes. */
  readonly ackLimit: number;
  /** `F`: UpdateFC guideline; the model charges one 8-byte UpdateFC DLLP per `F` bytes. */
  readonly fcUpdateGuideline: number;
}

const BY_KEY = new Map<string, DllpLimits>(
  DLLP_LIMIT_ROWS.map(([gen, lanes, mps, ackLimit, fcUpdateGuideline]) => [`${gen}/${lanes}/${mps}`, { ackLimit, fcUpdateGuideline }]),
);

/**
 * The Ack latency limit and UpdateFC guideline for one link setting, as the pcie-bench model has them.
 * @param gen PCIe generation 1-7.
 * @param lanes link width.
 * @param mps Max Payload Size in bytes.
 * @returns `{ ackLimit, fcUpdateGuideline }` in symbol times.
 * @throws AssertionError when the combination is not in the table (only reachable from unchecked input).
 */
export function dllpLimits(gen: PcieGen, lanes: LinkWidth, mps: PayloadSize): DllpLimits {
  const limits = BY_KEY.get(`${gen}/${lanes}/${mps}`);
  assert(limits !== undefined, () => `no DLLP limits for Gen${gen} x${lanes} MPS ${mps}`);
  return limits;
}
