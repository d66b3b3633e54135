import { describe, expect, it } from "vitest";
import { dmaBufAttach } from "../../src/dmabuf/attachment.js";
import { exportDmaBuf } from "../../src/dmabuf/dma-buf.js";
import {
  DmaIommu,
  dmaBufFreeSgt,
  dmaBufMapAttachment,
  dmaBufPhysVecToSgt,
  dmaBufUnmapAttachment,
  type PhysVec,
  type PhysVecToSgtOptions,
  SG_CHUNK_2G,
  SG_CHUNK_UINT_MAX,
} from "../../src/dmabuf/map.js";
import { DmaFence } from "../../src/dmabuf/reservation.js";
import { dualSocket, oneSwitch } from "../../src/pci/builders.js";
import { IOMMU_PAGE_4K, Iommu } from "../../src/pci/iommu.js";
import { P2pdma, p2pdmaProvider } from "../../src/pci/p2pdma.js";
import type { Topology } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import { barExporter, fn, machine, recordedEngine } from "./world.js";

const KIB = 1024;
const MIB = 2 ** 20;
const GIB = 2 ** 30;
const BUS_OFFSET = 2 ** 40;
const IOVA_BASE = 2 ** 32;

function withBusOffset(spec: TopologySpec): TopologySpec {
  return { ...spec, hostBridges: spec.hostBridges.map((hb) => ({ ...hb, busOffset: BUS_OFFSET })) };
}

/** Two sockets whose second host bridge is not on the allow list (first root device 8086:0000). */
function unlistedSecondSocket(): TopologySpec {
  const spec = dualSocket(["gpu", "nic"]);
  const [hb0, hb1] = spec.hostBridges;
  if (hb0 === undefined || hb1 === undefined) throw new Error("dual socket has two host bridges");
  const [first, ...rest] = hb1.devices;
  if (first === undefined) throw new Error("empty root bus");
  return { ...spec, hostBridges: [hb0, { ...hb1, devices: [{ ...first, device: "0x0000" }, ...rest] }] };
}

function bar1Of(topology: Topology): number {
  const bar = fn(topology, "gpu0").bars.find((b) => b.index === 1);
  if (bar === undefined) throw new Error("gpu0 has BAR1");
  return bar.cpuAddress;
}

/** Maps `ranges(bar1)` of gpu0 BAR1 for `client`; returns the outcome and the IOMMU's view. */
function physVecToSgt(
  spec: TopologySpec,
  client: string,
  ranges: (bar1: number) => PhysVec[],
  options: { iommu?: boolean; chunkBytes?: number; bar?: number } = {},
) {
  const topology = machine(spec);
  const iommu = new Iommu();
  const opts: PhysVecToSgtOptions = {
    p2pdma: new P2pdma(topology),
    ...(options.iommu ? { iommu: new DmaIommu(iommu) } : {}),
    ...(options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes }),
  };
  const bar1 = bar1Of(topology);
  const result = dmaBufPhysVecToSgt(p2pdmaProvider(fn(topology, "gpu0"), options.bar ?? 1), fn(topology, client), ranges(bar1), opts);
  return { result, bar1, iommu, domain: iommu.domainOf(fn(topology, client).id) };
}

const TWO_RANGES = (bar1: number): PhysVec[] => [
  { paddr: bar1 + 2 * MIB, len: 2 * MIB },
  { paddr: bar1 + 64 * KIB, len: 8 * KIB },
];

describe("dma_buf_phys_vec_to_sgt: one row per map type", () => {
  it("BUS_ADDR adds busOffset; THRU_HOST_BRIDGE is one MMIO IOVA range or the physical addresses; the rest is EINVAL", () => {
    const rows = [
      ["BUS_ADDR (one switch, busOffset 2^40)", withBusOffset(oneSwitch()), "nic0", {}],
      ["BUS_ADDR with an IOMMU present", oneSwitch(), "nic0", { iommu: true }],
      ["THRU_HOST_BRIDGE, no IOMMU", oneSwitch(undefined, { acsRedirect: true }), "nic0", {}],
      ["THRU_HOST_BRIDGE, IOMMU", oneSwitch(undefined, { acsRedirect: true }), "nic0", { iommu: true }],
      ["NOT_SUPPORTED (unlisted host bridge)", unlistedSecondSocket(), "nic1", { iommu: true }],
      ["no provider (BAR2 absent)", oneSwitch(), "nic0", { bar: 2 }],
    ] as const;
    const table = rows.map(([label, spec, client, options]) => {
      const { result, bar1, iommu, domain } = physVecToSgt(spec, client, TWO_RANGES, options);
      if (!result.ok) return [label, result.errno, iommu.pageCount(domain)];
      const entries = result.value.entries.map((e) => [`bar1+${(e.dmaAddress - bar1).toString(16)}`, e.length]);
      const iova = result.value.entries.map((e) => [e.dmaAddress, e.length]);
      return [label, result.value.kind, result.value.kind === "iova" ? iova : entries, iommu.pageCount(domain)];
    });
    expect(table).toEqual([
      [
        "BUS_ADDR (one switch, busOffset 2^40)",
        "bus-addr",
        [
          [`bar1+${(BUS_OFFSET + 2 * MIB).toString(16)}`, 2 * MIB],
          [`bar1+${(BUS_OFFSET + 64 * KIB).toString(16)}`, 8 * KIB],
        ],
        0,
      ],
      [
        "BUS_ADDR with an IOMMU present",
        "bus-addr",
        [
          ["bar1+200000", 2 * MIB],
          ["bar1+10000", 8 * KIB],
        ],
        0,
      ],
      [
        "THRU_HOST_BRIDGE, no IOMMU",
        "direct",
        [
          ["bar1+200000", 2 * MIB],
          ["bar1+10000", 8 * KIB],
        ],
        0,
      ],
      ["THRU_HOST_BRIDGE, IOMMU", "iova", [[IOVA_BASE, 2 * MIB + 8 * KIB]], 3],
      ["NOT_SUPPORTED (unlisted host bridge)", "EINVAL", 0],
      ["no provider (BAR2 absent)", "EINVAL", 0],
    ]);
  });

  it("the IOVA range maps each range, in order, MMIO, with the largest pages alignment allows", () => {
    const { result, bar1, iommu, domain } = physVecToSgt(oneSwitch(undefined, { acsRedirect: true }), "nic0", TWO_RANGES, { iommu: true });
    expect(result.ok).toBe(true);
    const pages = [0, 2 * MIB, 2 * MIB + 4 * KIB].map((offset) => iommu.pageAt(domain, IOVA_BASE + offset));
    expect(pages).toEqual([
      { iova: IOVA_BASE, phys: bar1 + 2 * MIB, pageSize: 2 * MIB, perms: "rw", mmio: true },
      { iova: IOVA_BASE + 2 * MIB, phys: bar1 + 64 * KIB, pageSize: 4 * KIB, perms: "rw", mmio: true },
      { iova: IOVA_BASE + 2 * MIB + 4 * KIB, phys: bar1 + 68 * KIB, pageSize: 4 * KIB, perms: "rw", mmio: true },
    ]);
  });
});

describe("chunking (E4, E14, E16)", () => {
  const FIVE_GIB = (bar1: number): PhysVec[] => [{ paddr: bar1, len: 5 * GIB }];
  it("a 5 GiB range splits at UINT_MAX rounded to a page, or at 2 GiB, into contiguous page-aligned entries", () => {
    const rows: ReadonlyArray<readonly [string, { iommu?: boolean; chunkBytes?: number }]> = [
      ["BUS_ADDR, UINT_MAX rounded", {}],
      ["BUS_ADDR, 2 GiB", { chunkBytes: SG_CHUNK_2G }],
      ["IOVA, UINT_MAX rounded", { iommu: true }],
      ["IOVA, 2 GiB", { iommu: true, chunkBytes: SG_CHUNK_2G }],
    ];
    const table = rows.map(([label, options]) => {
      const spec = options.iommu ? oneSwitch(undefined, { acsRedirect: true }) : oneSwitch();
      const { result, bar1, iommu, domain } = physVecToSgt(spec, "nic0", FIVE_GIB, options);
      if (!result.ok) throw new Error(result.errno);
      const base = result.value.kind === "iova" ? IOVA_BASE : bar1;
      return [label, result.value.entries.map((e) => [(e.dmaAddress - base).toString(16), e.length.toString(16)]), iommu.pageCount(domain)];
    });
    expect(table).toEqual([
      [
        "BUS_ADDR, UINT_MAX rounded",
        [
          ["0", "fffff000"],
          ["fffff000", "40001000"],
        ],
        0,
      ],
      [
        "BUS_ADDR, 2 GiB",
        [
          ["0", "80000000"],
          ["80000000", "80000000"],
          ["100000000", "40000000"],
        ],
        0,
      ],
      [
        "IOVA, UINT_MAX rounded",
        [
          ["0", "fffff000"],
          ["fffff000", "40001000"],
        ],
        5,
      ],
      [
        "IOVA, 2 GiB",
        [
          ["0", "80000000"],
          ["80000000", "80000000"],
          ["100000000", "40000000"],
        ],
        5,
      ],
    ]);
    expect(SG_CHUNK_UINT_MAX).toBe(0xffff_f000);
  });

  it("the unrounded UINT_MAX chunk of the first form yields an unaligned entry, which the builder refuses (I15)", () => {
    expect(() => physVecToSgt(oneSwitch(), "nic0", FIVE_GIB, { chunkBytes: 0xffff_ffff })).toThrow("not page aligned (I15)");
  });
});

describe("unmap and unwinding", () => {
  it("dma_buf_free_sgt destroys the IOVA range: its pages and IOTLB entries go, DMA to it faults", () => {
    const { result, iommu, domain } = physVecToSgt(oneSwitch(undefined, { acsRedirect: true }), "nic0", TWO_RANGES, { iommu: true });
    if (!result.ok) throw new Error(result.errno);
    const nic = domain.replace("default:", "");
    expect(iommu.translate(nic, IOVA_BASE + 4 * KIB, "w").ok).toBe(true);
    dmaBufFreeSgt(result.value);
    expect(iommu.pageCount(domain)).toBe(0);
    expect(iommu.iotlbContents()).toEqual([]);
    expect(iommu.translate(nic, IOVA_BASE + 4 * KIB, "w")).toMatchObject({ ok: false, fault: "unmapped" });
    expect(() => dmaBufFreeSgt(result.value)).toThrow("dma_buf_free_sgt twice");
  });

  it("dma_buf_free_sgt of a range someone else unmapped first WARNs (counted in shortUnmaps) and frees what is left", () => {
    const { result, iommu, domain } = physVecToSgt(oneSwitch(undefined, { acsRedirect: true }), "nic0", TWO_RANGES, { iommu: true });
    if (!result.ok) throw new Error(result.errno);
    const dma = result.value;
    const dmaIommu = dma.iova?.dmaIommu;
    // The first range (2 MiB) torn down behind the importer's back, as the iommu-unmap fault does.
    expect(iommu.unmap(domain, IOVA_BASE, 2 * MIB)).toMatchObject({ ok: true, bytes: 2 * MIB });
    dmaBufFreeSgt(dma);
    expect([dmaIommu?.shortUnmaps, iommu.pageCount(domain), dma.freed]).toEqual([1, 0, true]);
  });

  it("an IOMMU refusal on the second range unwinds the first; a DMA mask below the BAR is ENOMEM", () => {
    const topology = machine(oneSwitch(undefined, { acsRedirect: true }));
    const nic0 = fn(topology, "nic0");
    const iommu = new Iommu();
    const domain = iommu.domainOf(nic0.id);
    iommu.map(domain, IOVA_BASE + 2 * MIB, 0x1000_0000, IOMMU_PAGE_4K, IOMMU_PAGE_4K, "r");
    const provider = p2pdmaProvider(fn(topology, "gpu0"), 1);
    const p2pdma = new P2pdma(topology);
    const ranges = TWO_RANGES(bar1Of(topology));
    expect(dmaBufPhysVecToSgt(provider, nic0, ranges, { p2pdma, iommu: new DmaIommu(iommu) })).toEqual({ ok: false, errno: "EBUSY" });
    expect(iommu.pageCount(domain)).toBe(1);
    expect(dmaBufPhysVecToSgt(provider, nic0, ranges, { p2pdma, dmaMaskBits: 32 })).toEqual({ ok: false, errno: "ENOMEM" });
  });
});

describe("dma_buf_map_attachment", () => {
  it("pins on map for a static importer when the exporter can pin, counts the mapping, and undoes both on unmap", () => {
    const topology = machine(oneSwitch());
    const { engine, trace } = recordedEngine();
    const ranges = TWO_RANGES(bar1Of(topology));
    const buf = barExporter(engine, topology, fn(topology, "gpu0"), 1, { ranges, policy: "any", pin: true });
    const nic0 = fn(topology, "nic0");
    const attached = dmaBufAttach(buf, nic0);
    if (!attached.ok) throw new Error("refused");
    const a = attached.value;
    buf.resv.lock(nic0.id);
    const mapped = dmaBufMapAttachment(a);
    if (!mapped.ok) throw new Error(mapped.errno);
    expect([a.mapCount, buf.mappingCount]).toEqual([1, 1]);
    dmaBufUnmapAttachment(a, mapped.value);
    expect(() => dmaBufUnmapAttachment(a, mapped.value)).toThrow("not mapped");
    buf.priv.revoked = true;
    expect(dmaBufMapAttachment(a)).toEqual({ ok: false, errno: "ENODEV" });
    buf.resv.unlock(nic0.id);
    expect(buf.priv.calls).toEqual(["attach nic0", "pin nic0", "map nic0", "unmap nic0", "unpin nic0", "pin nic0", "map nic0", "unpin nic0"]);
    expect(trace.tuples().slice(2)).toEqual([
      [0, "dmabuf/resv.lock", { buf: "gpu0/bar1", holder: nic0.id }],
      [
        0,
        "dmabuf/map",
        {
          buf: "gpu0/bar1",
          attach: 0,
          importer: "nic0",
          nents: 2,
          bytes: 2 * MIB + 8 * KIB,
          // The ranges as the exporter gave them; BUS_ADDR adds the BAR's bus offset (0 here: bus == CPU address).
          sg: ranges.map((r) => [r.paddr, r.len]),
          ranges: ranges.map((r) => [r.paddr, r.len]),
          mapKind: "bus-addr",
          barCpuAddress: bar1Of(topology),
          barBusAddress: bar1Of(topology),
        },
      ],
      [0, "dmabuf/unmap", { buf: "gpu0/bar1", attach: 0, importer: "nic0" }],
      [0, "dmabuf/map.refused", { buf: "gpu0/bar1", attach: 0, importer: "nic0", errno: "ENODEV" }],
      [0, "dmabuf/resv.unlock", { buf: "gpu0/bar1", holder: nic0.id }],
    ]);
  });

  it("checks the exporter's list again on receipt (I14), and a static map with a KERNEL fence pending is misuse", () => {
    const topology = machine(oneSwitch());
    const nic0 = fn(topology, "nic0");
    const { engine } = recordedEngine();
    const short = exportDmaBuf(engine, {
      name: "short",
      size: 8 * KIB,
      ops: { map: () => ({ ok: true, value: { entries: [{ dmaAddress: 0, length: 4 * KIB }] } }), unmap: () => undefined, release: () => undefined },
      priv: 0,
    });
    const a = dmaBufAttach(short, nic0);
    if (!a.ok) throw new Error("refused");
    short.resv.lock(nic0.id);
    expect(() => dmaBufMapAttachment(a.value)).toThrow("sg lengths sum to 4096, dma-buf size is 8192 (I14)");
    short.resv.addFence(new DmaFence(engine, "move"), "kernel");
    expect(() => dmaBufMapAttachment(a.value)).toThrow("KERNEL fence pending");
  });
});
