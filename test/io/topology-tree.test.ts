import { describe, expect, it } from "vitest";
import { renderPairMatrix } from "../../src/io/pair-matrix.js";
import { renderTopologyTree } from "../../src/io/topology-tree.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { oneSwitch } from "../../src/pci/builders.js";

describe("renderTopologyTree", () => {
  it("draws the whole one-switch machine with links, ACS and groups", () => {
    const result = buildTopology(oneSwitch(["gpu", "nic"], { acsRedirect: true }));
    if (!result.ok) throw new Error("build failed");
    const groups = new Map(result.topology.functions.map((f, i) => [f.id, i]));
    expect(renderTopologyTree(result.topology, { iommuGroups: groups })).toBe(
      [
        "host bridge hb0 · domain 0000 · root bus 00 · NUMA node 0 · socket 0",
        "├─ 00:00.0  endpoint        Intel Ice Lake host bridge [8086:09a2]  group 0",
        "└─ 00:01.0  root-port       Intel Ice Lake PCIe root port [8086:347a]  Gen4 x16  ACS SV RR CR UF EC, ctl RR CR  group 1",
        "   └─ 01:00.0  upstream-port   Broadcom PEX88xxx switch upstream port [1000:c010]  Gen4 x16  group 2",
        "      ├─ 02:00.0  downstream-port Broadcom PEX88xxx switch downstream port [1000:c010]  Gen4 x16  ACS SV RR CR UF EC, ctl RR CR  group 3",
        "      │  └─ 03:00.0  endpoint        gpu0  NVIDIA A100-SXM4-40GB [10de:20b0]  Gen4 x16  group 4",
        "      └─ 02:01.0  downstream-port Broadcom PEX88xxx switch downstream port [1000:c010]  Gen4 x16  ACS SV RR CR UF EC, ctl RR CR  group 5",
        "         └─ 04:00.0  endpoint        nic0  Mellanox ConnectX-6 [15b3:101b]  Gen4 x16  group 6",
      ].join("\n"),
    );
  });

  it("shows links trained below capability, memory disabled and low power", () => {
    const result = buildTopology({
      hostBridges: [
        {
          devices: [
            {
              kind: "endpoint",
              description: "slow",
              vendor: 1,
              device: 2,
              link: { capGen: 3, capWidth: 16, gen: 1, width: 8 },
              memoryEnabled: false,
              powerState: "D3hot",
            },
          ],
        },
      ],
    });
    if (!result.ok) throw new Error("build failed");
    expect(renderTopologyTree(result.topology).split("\n")[1]).toBe("└─ 00:00.0  endpoint        slow [0001:0002]  Gen1 x8 (capable Gen3 x16)  MEM off  D3hot");
  });
});

describe("renderPairMatrix", () => {
  it("lays out rows as providers and columns as clients", () => {
    const text = renderPairMatrix(["gpu0", "nic0"], (i) =>
      i === 0 ? { mapType: "bus-addr", distance: 4, nvidiaLevel: "PIX" } : { mapType: "thru-host-bridge", distance: 8, nvidiaLevel: "PHB" },
    );
    expect(text).toBe(["           gpu0       nic0", "gpu0       X          BUS 4 PIX", "nic0       HB 8 PHB   X"].join("\n"));
  });
});
