/**
 * Test support for the dma-buf layer: a machine (built with `buildTopology` from a builder), an
 * engine with a trace recorder, and a small BAR exporter in the shape of vfio-pci's (peer-to-peer
 * and revocable checks in `attach`, -ENODEV once revoked, the scatter list from
 * `dmaBufPhysVecToSgt`), so the layer can be tested without the vfio layer above it.
 */

import { type DmaBufAttachment, dmaBufAttachRevocable } from "../../src/dmabuf/attachment.js";
import { type DmaBuf, type DmaBufOps, exportDmaBuf } from "../../src/dmabuf/dma-buf.js";
import type { Errno } from "../../src/dmabuf/errno.js";
import { DmaBufDma, type DmaIommu, dmaBufFreeSgt, dmaBufPhysVecToSgt, type PhysVec } from "../../src/dmabuf/map.js";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { P2pdma, p2pdmaProvider } from "../../src/pci/p2pdma.js";
import type { PciFunction, Topology } from "../../src/pci/topology.js";
import { fn, machine } from "../support/build.js";

/** A fresh engine whose trace is recorded. */
export function recordedEngine(): { engine: Engine; trace: TraceRecorder } {
  const engine = new Engine({ seed: 1, verify: true });
  return { engine, trace: new TraceRecorder().attach(engine.trace) };
}

/** Which importers the test exporter's `attach` accepts. */
export type AttachPolicy =
  /** Anyone. */
  | "any"
  /** vfio-pci after the wait fix [§c.3]: peer-to-peer capable and revocable. */
  | "vfio"
  /** vfio-pci as first merged [VDB-T]: peer-to-peer capable only. */
  | "vfio-initial";

/** The test exporter's private object. */
export interface BarExporterPriv {
  readonly p2pdma: P2pdma;
  readonly provider: ReturnType<typeof p2pdmaProvider>;
  readonly ranges: readonly PhysVec[];
  readonly iommu: DmaIommu | undefined;
  readonly chunkBytes: number | undefined;
  readonly policy: AttachPolicy;
  revoked: boolean;
  /** Exporter op calls, in order. */
  readonly calls: string[];
}

/** Options of {@link barExporter}. */
export interface BarExporterOptions {
  readonly ranges: readonly PhysVec[];
  readonly iommu?: DmaIommu;
  readonly chunkBytes?: number;
  readonly policy?: AttachPolicy;
  /** Give the exporter pin/unpin (a dynamic exporter). */
  readonly pin?: boolean;
  readonly name?: string;
}

function attachOp(priv: BarExporterPriv, attach: DmaBufAttachment<BarExporterPriv>): Errno | undefined {
  priv.calls.push(`attach ${attach.importer.label}`);
  if (priv.policy === "any") return undefined;
  if (!attach.peer2peer) return "EOPNOTSUPP";
  if (priv.revoked) return "ENODEV";
  if (priv.policy === "vfio" && !dmaBufAttachRevocable(attach)) return "EOPNOTSUPP";
  return undefined;
}

/** Exports `ranges` of `provider`'s BAR as a dma-buf, vfio-pci style. */
export function barExporter(engine: Engine, topology: Topology, owner: PciFunction, barIndex: number, options: BarExporterOptions): DmaBuf<BarExporterPriv> {
  const priv: BarExporterPriv = {
    p2pdma: new P2pdma(topology),
    provider: p2pdmaProvider(owner, barIndex),
    ranges: options.ranges,
    iommu: options.iommu,
    chunkBytes: options.chunkBytes,
    policy: options.policy ?? "vfio",
    revoked: false,
    calls: [],
  };
  const ops: DmaBufOps<BarExporterPriv> = {
    attach: (buf, attach) => attachOp(buf.priv, attach),
    detach: (buf, attach) => void buf.priv.calls.push(`detach ${attach.importer.label}`),
    map: (attach) => {
      const p = attach.buf.priv;
      p.calls.push(`map ${attach.importer.label}`);
      if (p.revoked) return { ok: false, errno: "ENODEV" };
      return dmaBufPhysVecToSgt(p.provider, attach.importer, p.ranges, {
        p2pdma: p.p2pdma,
        ...(p.iommu === undefined ? {} : { iommu: p.iommu }),
        ...(p.chunkBytes === undefined ? {} : { chunkBytes: p.chunkBytes }),
      });
    },
    unmap: (attach, sgt) => {
      attach.buf.priv.calls.push(`unmap ${attach.importer.label}`);
      if (!(sgt instanceof DmaBufDma)) throw new Error("foreign scatter list");
      dmaBufFreeSgt(sgt);
    },
    release: (buf) => void buf.priv.calls.push("release"),
    ...(options.pin
      ? {
          pin: (attach: DmaBufAttachment<BarExporterPriv>) => void attach.buf.priv.calls.push(`pin ${attach.importer.label}`),
          unpin: (attach: DmaBufAttachment<BarExporterPriv>) => void attach.buf.priv.calls.push(`unpin ${attach.importer.label}`),
        }
      : {}),
  };
  const size = options.ranges.reduce((sum, r) => sum + r.len, 0);
  return exportDmaBuf(engine, { name: options.name ?? `${owner.label}/bar${barIndex}`, size, ops, priv });
}

export { fn, machine };
