import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { importNumactl, looksLikeNumactl } from "../../src/io/numactl.js";

/** `numactl --hardware` on a DGX A100 (2x EPYC 7742, NPS4): 8 nodes, 12 within a socket, 32 across. */
const EPYC_2S_NPS4 = `available: 8 nodes (0-7)
node 0 cpus: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 128 129 130 131 132 133 134 135 136 137 138 139 140 141 142 143
node 0 size: 128825 MB
node 0 free: 120544 MB
node 1 cpus: 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 144 145 146 147 148 149 150 151 152 153 154 155 156 157 158 159
node 1 size: 129019 MB
node 1 free: 126781 MB
node 2 cpus: 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 160 161 162 163 164 165 166 167 168 169 170 171 172 173 174 175
node 2 size: 129019 MB
node 2 free: 127122 MB
node 3 cpus: 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 176 177 178 179 180 181 182 183 184 185 186 187 188 189 190 191
node 3 size: 129019 MB
node 3 free: 126347 MB
node 4 cpus: 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 192 193 194 195 196 197 198 199 200 201 202 203 204 205 206 207
node 4 size: 129019 MB
node 4 free: 127509 MB
node 5 cpus: 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 208 209 210 211 212 213 214 215 216 217 218 219 220 221 222 223
node 5 size: 129019 MB
node 5 free: 127301 MB
node 6 cpus: 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239
node 6 size: 129019 MB
node 6 free: 127689 MB
node 7 cpus: 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255
node 7 size: 128996 MB
node 7 free: 126912 MB
node distances:
node   0   1   2   3   4   5   6   7 
  0:  10  12  12  12  32  32  32  32 
  1:  12  10  12  12  32  32  32  32 
  2:  12  12  10  12  32  32  32  32 
  3:  12  12  12  10  32  32  32  32 
  4:  32  32  32  32  10  12  12  12 
  5:  32  32  32  32  12  10  12  12 
  6:  32  32  32  32  12  12  10  12 
  7:  32  32  32  32  12  12  12  10 
`;

/** `numactl --hardware` on a 2x Xeon Gold 6148. */
const XEON_2S = `available: 2 nodes (0-1)
node 0 cpus: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
node 0 size: 191907 MB
node 0 free: 180125 MB
node 1 cpus: 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79
node 1 size: 193531 MB
node 1 free: 188014 MB
node distances:
node   0   1 
  0:  10  21 
  1:  21  10 
`;

describe("numactl --hardware", () => {
  it("reads the 8-node distance table of a 2-socket EPYC in NPS4", () => {
    const near = (i: number) => Array.from({ length: 8 }, (_, j) => (i === j ? 10 : Math.floor(i / 4) === Math.floor(j / 4) ? 12 : 32));
    expect(importNumactl(EPYC_2S_NPS4, "numa.txt")).toEqual({
      ok: true,
      facts: { numaNodes: [0, 1, 2, 3, 4, 5, 6, 7], platform: { numaDistances: Array.from({ length: 8 }, (_, i) => near(i)) } },
      warnings: [],
    });
  });

  it("reads a 2-socket Xeon", () => {
    expect(importNumactl(XEON_2S, "numa.txt")).toEqual({
      ok: true,
      facts: {
        numaNodes: [0, 1],
        platform: {
          numaDistances: [
            [10, 21],
            [21, 10],
          ],
        },
      },
      warnings: [],
    });
  });

  it("handles a machine without NUMA, node lists with holes, and a missing table with warnings", () => {
    expect(importNumactl("No NUMA available on this system\n", "n")).toEqual({
      ok: true,
      facts: { numaNodes: [0] },
      warnings: [{ file: "n", line: 1, message: "numactl found no NUMA: one node, 0, assumed" }],
    });
    const holes = importNumactl("available: 3 nodes (0-1,4)\nnode distances:\nnode   0   1   4\n  0:  10  21  40\n  1:  21  10  40\n  4:  40  40  10\n", "h");
    expect(holes.ok && holes.facts).toEqual({
      numaNodes: [0, 1, 4],
      platform: {
        numaDistances: [
          [10, 21, 40],
          [21, 10, 40],
          [40, 40, 10],
        ],
      },
    });
    const noTable = importNumactl("available: 2 nodes (0-1)\nnode 0 cpus: 0\n", "t");
    expect(noTable.ok && [noTable.facts, noTable.warnings.map((w) => w.message)]).toEqual([
      { numaNodes: [0, 1] },
      ['no "node distances:" table: NUMA distances left out'],
    ]);
  });

  it("fails, located, on a missing header line or a ragged table", () => {
    const cases: Array<[string, number, string]> = [
      ["hello\n", 1, 'not numactl --hardware output: expected a line like "available: 2 nodes (0-1)"'],
      ["available: two nodes\n", 1, 'not numactl --hardware output: expected a line like "available: 2 nodes (0-1)"'],
      ["available: 2 nodes (0-1)\nnode distances:\nnode   0   1\n  0:  10  21\n  1:  21\n", 5, 'expected the row "1:" with 2 distances, got "  1:  21"'],
      ["available: 2 nodes (0-1)\nnode distances:\nnodes\n", 3, 'expected the header "node   0   1 …" after "node distances:"'],
    ];
    expect(cases.map(([text]) => importNumactl(text, "bad.txt"))).toEqual(
      cases.map(([, line, message]) => ({ ok: false, error: { file: "bad.txt", line, message } })),
    );
  });

  it("recognises numactl output", () => {
    expect([EPYC_2S_NPS4, XEON_2S, "No NUMA available on this system", "Architecture: x86_64"].map(looksLikeNumactl)).toEqual([true, true, true, false]);
  });

  it("never throws on arbitrary text or on mutated samples", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const result = importNumactl(text, "f");
        expect(result.ok || result.error.line !== undefined).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(EPYC_2S_NPS4, XEON_2S), fc.nat(), fc.string({ maxLength: 8 }), (text, at, insert) => {
        const i = at % text.length;
        const result = importNumactl(text.slice(0, i) + insert + text.slice(i), "f");
        expect(result.ok || result.error.line !== undefined).toBe(true);
      }),
    );
  });
});
