import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { importLscpu, looksLikeLscpu } from "../../src/io/lscpu.js";

/** util-linux 2.37+ on a DGX A100: 2x EPYC 7742, NPS4 (8 NUMA nodes), indented sections. */
const EPYC_2S_NPS4 = `Architecture:                    x86_64
  CPU op-mode(s):                32-bit, 64-bit
  Address sizes:                 43 bits physical, 48 bits virtual
  Byte Order:                    Little Endian
CPU(s):                          256
  On-line CPU(s) list:           0-255
Vendor ID:                       AuthenticAMD
  Model name:                    AMD EPYC 7742 64-Core Processor
    CPU family:                  23
    Model:                       49
    Thread(s) per core:          2
    Core(s) per socket:          64
    Socket(s):                   2
    Stepping:                    0
    Frequency boost:             enabled
    CPU max MHz:                 2250.0000
    Flags:                       fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov
Virtualization features:
  Virtualization:                AMD-V
Caches (sum of all):
  L1d:                           4 MiB (128 instances)
  L3:                            512 MiB (32 instances)
NUMA:
  NUMA node(s):                  8
  NUMA node0 CPU(s):             0-15,128-143
  NUMA node1 CPU(s):             16-31,144-159
  NUMA node2 CPU(s):             32-47,160-175
  NUMA node3 CPU(s):             48-63,176-191
  NUMA node4 CPU(s):             64-79,192-207
  NUMA node5 CPU(s):             80-95,208-223
  NUMA node6 CPU(s):             96-111,224-239
  NUMA node7 CPU(s):             112-127,240-255
Vulnerabilities:
  Spectre v2:                    Mitigation; Retpolines, IBPB conditional, STIBP conditional
`;

/** util-linux 2.32 (no indentation) on a 2x Xeon Gold 6148 (Skylake-SP). */
const XEON_2S = `Architecture:        x86_64
CPU op-mode(s):      32-bit, 64-bit
Byte Order:          Little Endian
CPU(s):              80
On-line CPU(s) list: 0-79
Thread(s) per core:  2
Core(s) per socket:  20
Socket(s):           2
NUMA node(s):        2
Vendor ID:           GenuineIntel
CPU family:          6
Model:               85
Model name:          Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
Stepping:            4
L3 cache:            28160K
NUMA node0 CPU(s):   0-19,40-59
NUMA node1 CPU(s):   20-39,60-79
Flags:               fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat avx512f
`;

/** An Arm server with two core types: lscpu repeats Model per type and prints "-" for sockets. */
const ARM_HYBRID = `Architecture:           aarch64
  CPU op-mode(s):       64-bit
CPU(s):                 8
Vendor ID:              ARM
  Model name:           Cortex-A55
    Model:              0
    Socket(s):          -
  Model name:           Cortex-A76
    Model:              1
    Socket(s):          -
NUMA:
  NUMA node(s):         1
`;

describe("lscpu", () => {
  it("reads an AMD EPYC 2-socket machine with 8 NUMA nodes", () => {
    expect(importLscpu(EPYC_2S_NPS4, "lscpu.txt")).toEqual({
      ok: true,
      facts: { platform: { cpuVendor: "amd", cpuFamily: 23, cpuModel: 49, arch: "x86" }, numaNodes: [0, 1, 2, 3, 4, 5, 6, 7], sockets: 2 },
      warnings: [],
    });
  });

  it("reads an Intel 2-socket machine in the older, unindented layout", () => {
    expect(importLscpu(XEON_2S, "lscpu.txt")).toEqual({
      ok: true,
      facts: { platform: { cpuVendor: "intel", cpuFamily: 6, cpuModel: 85, arch: "x86" }, numaNodes: [0, 1], sockets: 2 },
      warnings: [],
    });
  });

  it("keeps the first of repeated keys with a warning, reads '-' as unknown, and assumes node ids from the count", () => {
    expect(importLscpu(ARM_HYBRID, "arm.txt")).toEqual({
      ok: true,
      facts: { platform: { cpuVendor: "other", cpuModel: 0, arch: "arm64" }, numaNodes: [0] },
      warnings: [
        { file: "arm.txt", line: 9, message: '"Model" repeats with "1": the first value, "0", is used' },
        { file: "arm.txt", line: 12, message: 'no "NUMA nodeN CPU(s)" lines: assumed nodes 0..0' },
      ],
    });
  });

  it("maps vendors so that only AuthenticAMD is AMD for the Zen rule", () => {
    const vendor = (id: string) => {
      const result = importLscpu(`Architecture: x86_64\nVendor ID: ${id}\nCPU family: 24\n`, "v");
      return result.ok ? result.facts.platform?.cpuVendor : undefined;
    };
    expect(["GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls"].map(vendor)).toEqual(["intel", "amd", "other", "other"]);
  });

  it("warns when the node count and the node lines disagree", () => {
    const result = importLscpu("Architecture: x86_64\nNUMA node(s): 4\nNUMA node0 CPU(s): 0-3\nNUMA node1 CPU(s): 4-7\n", "n");
    expect(result.ok && result.facts.numaNodes).toEqual([0, 1]);
    expect(result.ok && result.warnings.map((w) => [w.line, w.message])).toEqual([[2, '"NUMA node(s): 4" but 2 node lines: the node lines are used']]);
  });

  it("fails, located, on text that is not lscpu or on a number that is not one", () => {
    expect(importLscpu("hello\nworld\n", "x.txt")).toEqual({
      ok: false,
      error: { file: "x.txt", line: 1, message: 'not lscpu output: expected lines such as "Architecture: x86_64" and "Vendor ID: GenuineIntel"' },
    });
    expect(importLscpu("Architecture: x86_64\nCPU family: six\n", "x.txt")).toEqual({
      ok: false,
      error: { file: "x.txt", line: 2, message: '"CPU family" should be a decimal number, got "six"' },
    });
  });

  it("recognises lscpu output", () => {
    expect([EPYC_2S_NPS4, XEON_2S, ARM_HYBRID, "available: 2 nodes (0-1)"].map(looksLikeLscpu)).toEqual([true, true, true, false]);
  });

  it("never throws on arbitrary text or on mutated samples", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const result = importLscpu(text, "f");
        expect(result.ok || result.error.line !== undefined).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(EPYC_2S_NPS4, XEON_2S, ARM_HYBRID), fc.nat(), fc.string({ maxLength: 8 }), (text, at, insert) => {
        const i = at % text.length;
        const result = importLscpu(text.slice(0, i) + insert + text.slice(i), "f");
        expect(result.ok || result.error.line !== undefined).toBe(true);
      }),
    );
  });
});
