import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { completionSizes, countAligned, headerBytes, splitAligned, wireBytes } from "../../src/pci/tlp.js";

describe("TLP sizes (pcie-timing.md §3.3)", () => {
  it("has the wire overhead table of §3.3", () => {
    const table = (["MWr", "MRd", "CplD"] as const).flatMap((kind) =>
      ([64, 32] as const).map((addressBits) => [
        kind,
        addressBits,
        headerBytes(kind, { addressBits, ecrc: false }),
        wireBytes(kind, 0, { addressBits, ecrc: false }),
        wireBytes(kind, 0, { addressBits, ecrc: true }),
      ]),
    );
    expect(table).toEqual([
      ["MWr", 64, 16, 24, 28],
      ["MWr", 32, 12, 20, 24],
      ["MRd", 64, 16, 24, 28],
      ["MRd", 32, 12, 20, 24],
      ["CplD", 64, 12, 20, 24],
      ["CplD", 32, 12, 20, 24],
    ]);
    expect(wireBytes("MWr", 256, { addressBits: 64, ecrc: false })).toBe(280);
  });
});

describe("cutting DMA into TLPs", () => {
  it("cuts at aligned boundaries, so no piece crosses 4 KiB", () => {
    expect(splitAligned(0, 1500, 256)).toEqual([256, 256, 256, 256, 256, 220]);
    expect(splitAligned(100, 600, 256)).toEqual([156, 256, 188]);
    expect(splitAligned(4000, 200, 4096)).toEqual([96, 104]);
    expect(completionSizes(64, 512, 256, 64, false)).toEqual([192, 256, 64]);
    expect(completionSizes(64, 512, 256, 64, true)).toEqual(Array(8).fill(64));
  });

  it("never crosses 4 KiB, never exceeds the chunk, covers the range exactly, and counts without building", () => {
    fc.assert(
      fc.property(fc.nat(1 << 20), fc.integer({ min: 1, max: 1 << 16 }), fc.constantFrom(64, 128, 256, 512, 1024, 4096), (address, length, chunk) => {
        const pieces = splitAligned(address, length, chunk);
        expect(pieces.reduce((a, b) => a + b, 0)).toBe(length);
        expect(countAligned(address, length, chunk)).toBe(pieces.length);
        let at = address;
        for (const piece of pieces) {
          expect(piece).toBeLessThanOrEqual(chunk);
          expect(Math.floor(at / 4096)).toBe(Math.floor((at + piece - 1) / 4096));
          at += piece;
        }
      }),
    );
  });
});
