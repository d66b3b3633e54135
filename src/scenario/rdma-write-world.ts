/**
 * The machine of the RDMA-into-a-GPU-BAR scenarios, assembled from the model's layers the way a
 * user's program and the kernel would assemble it:
 *
 * 1. A topology with a GPU and a NIC (default: one switch with gpu0, gpu1, nic0), a DMA bus over it.
 * 2. gpu0 (or `gpuLabel`) opened through vfio-pci; BAR1 (or `bar`) `[0, exportBytes)` exported as a dma-buf (fd 3) with
 *    `VFIO_DEVICE_FEATURE_DMA_BUF`, under the chosen VFIO profile.
 * 3. nic0's verbs device and NIC; a PD; `src`, 1 MiB of user memory registered as a VA MR; `dst`,
 *    a dynamic dma-buf MR over the first MiB of the export (REMOTE_WRITE | REMOTE_READ).
 * 4. The requester's send CQ: `cqEntries` CQEs in host memory, or (`cqInBar`) in the export at
 *    offset 1 MiB through a DMABUF buffer descriptor, pinned as `cqPin` says (the posted design's
 *    non-revocable pin, which the newest VFIO refuses, or the pinned-revocable API).
 * 5. Two RC QPs of nic0 in RTS, connected in loopback over a wire.
 *
 * Used by the `rdma` benchmark, the rdma tests and the scenarios.
 */
import type { DmaBuf } from "../dmabuf/dma-buf.js";
import type { Errno, Result } from "../dmabuf/errno.js";
import { DmaIommu } from "../dmabuf/map.js";
import { Engine } from "../fabric/engine.js";
import { DmaBus } from "../pci/dma-bus.js";
import { Iommu, type IommuMutants } from "../pci/iommu.js";
import { P2pdma } from "../pci/p2pdma.js";
import type { P2pdmaMutants, P2pdmaProfile } from "../pci/p2pdma-map-type.js";
import type { PerfPlatform } from "../pci/perf-platform.js";
import { GEN5_SERVER } from "../pci/perf-platform.js";
import type { Topology } from "../pci/topology.js";
import { encodeBufferDescs, IB_UVERBS_BUFFER_TYPE } from "../rdma/buffer-desc.js";
import type { IbSendWr, IbWrOpcode } from "../rdma/ib-wr.js";
import { Nic, type NicConfig } from "../rdma/nic.js";
import type { NicQp } from "../rdma/nic-qp.js";
import { nicConnect } from "../rdma/nic-queue.js";
import { RdmaWire, type RdmaWireConfig } from "../rdma/rdma-wire.js";
import { IB_ACCESS, ibUmemContext } from "../rdma/umem.js";
import type { UmemPinnerDmabufMode } from "../rdma/umem-pinner.js";
import { UserMm } from "../rdma/user-mm.js";
import { type IbCq, ibCreateCq, UVERBS_BUF_CQ } from "../rdma/verbs-cq.js";
import { type IbDriverMutants, ibDevice } from "../rdma/verbs-device.js";
import { ibRegUserMr, ibRegUserMrDmabuf } from "../rdma/verbs-mr.js";
import { ibAllocPd } from "../rdma/verbs-pd.js";
import { ibCreateQp, ibModifyQp } from "../rdma/verbs-qp.js";
import { FdTable } from "../vfio/fd-table.js";
import type { VfioOptions } from "../vfio/profiles.js";
import { encodeDmaBufFeature } from "../vfio/uapi.js";
import { VfioPciDevice } from "../vfio/vfio-pci-device.js";

/** Options of {@link rdmaWriteWorld}. */
export interface RdmaWriteWorldOptions {
  readonly topology: Topology;
  /** The exporting device's label. Default `gpu0`. */
  readonly gpuLabel?: string;
  /** The importing NIC's label. Default `nic0`. */
  readonly nicLabel?: string;
  /** The exported BAR. Default 1. */
  readonly bar?: number;
  /** Bytes exported from BAR offset 0 (at least 2 MiB: the MR takes the first, a BAR CQ the second). Default 2 MiB. */
  readonly exportBytes?: number;
  readonly p2pdmaProfile?: P2pdmaProfile;
  /** p2pdma's model mutants. Default none. */
  readonly p2pdmaMutants?: P2pdmaMutants;
  /** Publish p2pdma's map-type answers on the trace (for I9 and I12). Default false. */
  readonly p2pdmaTrace?: boolean;
  /** Called with the engine before anything is built, so trace sinks (monitors) see the setup's events too. */
  readonly observe?: (engine: Engine) => void;
  readonly seed?: number;
  /** Engine self-checks (slow). Default false. */
  readonly verify?: boolean;
  readonly platform?: PerfPlatform;
  readonly vfio?: VfioOptions;
  /** IOMMU on (the topology should say so too, for its ACS settings). Default false. */
  readonly iommu?: boolean;
  readonly cqInBar?: boolean;
  /** Default "pinned". */
  readonly cqPin?: UmemPinnerDmabufMode;
  /** Default 64. */
  readonly cqEntries?: number;
  /** Default 64. */
  readonly sqDepth?: number;
  readonly mutants?: IbDriverMutants;
  /** The IOMMU's mutants (`iotlbNotFlushed`: an unmap leaves IOTLB entries cached). */
  readonly iommuMutants?: IommuMutants;
  readonly tlpEvents?: boolean;
  readonly nic?: Partial<NicConfig>;
  /** Default 400 Gb/s, 100 ns. */
  readonly wire?: RdmaWireConfig;
}

const MIB = 2 ** 20;
const LOCAL_WRITE = IB_ACCESS.LOCAL_WRITE;

/** A setup step failed: a bug in the caller's options, not a model outcome. */
function ok<T>(result: Result<T>, what: string): T {
  if (!result.ok) throw new Error(`rdma world: ${what} failed with ${result.errno}`);
  return result.value;
}

/**
 * Builds the world.
 * @throws Error when gpu0 or nic0 is missing or a setup step fails.
 */
export function rdmaWriteWorld(options: RdmaWriteWorldOptions) {
  const { topology } = options;
  const gpuLabel = options.gpuLabel ?? "gpu0";
  const nicLabel = options.nicLabel ?? "nic0";
  const gpuFn = topology.find(gpuLabel);
  const nicFn = topology.find(nicLabel);
  if (gpuFn === undefined || nicFn === undefined) throw new Error(`rdma world: the topology needs ${gpuLabel} and ${nicLabel}`);
  const engine = new Engine({ seed: options.seed ?? 1, verify: options.verify ?? false });
  options.observe?.(engine);
  const fdTable = new FdTable();
  const iommu = options.iommu ? new DmaIommu(new Iommu(options.iommuMutants?.iotlbNotFlushed ? { flushIotlbOnUnmap: false } : {})) : undefined;
  const p2pdma = new P2pdma(topology, options.p2pdmaProfile, options.p2pdmaMutants);
  if (options.p2pdmaTrace === true) p2pdma.trace = engine.trace;
  const gpu0 = new VfioPciDevice(engine, gpuFn, {
    p2pdma,
    fdTable,
    ...(iommu ? { iommu } : {}),
    options: options.vfio ?? {},
  });
  gpu0.open();
  const exportBytes = options.exportBytes ?? 2 * MIB;
  const ranges = [{ offset: 0n, length: BigInt(exportBytes) }];
  const feature = encodeDmaBufFeature({ regionIndex: options.bar ?? 1, openFlags: 0, dmaBufFlags: 0, ranges });
  const fd = ok(gpu0.deviceFeature(feature), "the dma-buf export");
  const buf = fdTable.peek(fd) as DmaBuf;
  const mm = new UserMm();
  const dmaBufGet = (n: number): Result<DmaBuf> => {
    const got = fdTable.dmaBufGet(n);
    return got === undefined ? { ok: false, errno: "EINVAL" as Errno } : { ok: true, value: got };
  };
  const ctx = ibUmemContext({ engine, mm, ...(iommu ? { iommu } : {}), dmaBufGet });
  const bus = new DmaBus(engine, topology, {
    platform: options.platform ?? GEN5_SERVER,
    ...(iommu ? { iommu: iommu.iommu } : {}),
    ...(options.tlpEvents ? { tlpEvents: true } : {}),
  });
  const device = ibDevice(ctx, nicFn, { pinner: { dmabuf: options.cqPin ?? "pinned" }, ...(options.mutants ? { mutants: options.mutants } : {}) });
  const nic = new Nic(device, bus, options.nic);
  const pd = ibAllocPd(device);
  const src = ok(ibRegUserMr({ pd, start: 0x100_0000, length: MIB, access: LOCAL_WRITE }), "the source MR");
  const remote = LOCAL_WRITE | IB_ACCESS.REMOTE_WRITE | IB_ACCESS.REMOTE_READ;
  const dst = ok(ibRegUserMrDmabuf({ pd, dmabuf: fd, offset: 0, length: MIB, access: remote }), "the BAR MR");
  const cqEntries = options.cqEntries ?? 64;
  const cqDesc = { fd, type: IB_UVERBS_BUFFER_TYPE.DMABUF, index: UVERBS_BUF_CQ.BUF, reserved: 0, addr: BigInt(MIB), length: BigInt(cqEntries * 64) };
  const buffers = options.cqInBar ? { buffers: encodeBufferDescs([cqDesc]) } : {};
  /** The send CQ's creation: with `cqInBar` and the default VFIO profile a pinned descriptor fails (EOPNOTSUPP). */
  const sendCqResult: Result<IbCq> = ibCreateCq(device, { entries: cqEntries, ucmd: { bufAddr: 0x200_0000n, dbAddr: 0x210_0000n }, ...buffers });
  const recvCq = ok(ibCreateCq(device, { entries: cqEntries, ucmd: { bufAddr: 0x220_0000n, dbAddr: 0x230_0000n } }), "the receive CQ");
  const layout = { sqDepth: options.sqDepth ?? 64, rqDepth: 64 };
  const bufSize = layout.rqDepth * 32 + layout.sqDepth * 64;
  const wire = new RdmaWire(engine, options.wire ?? { rateGbps: 400, latencyPs: 100_000 });
  const makeQp = (sendCq: IbCq, at: bigint): NicQp => {
    const qp = ok(ibCreateQp({ pd, sendCq, recvCq, bufSize, ucmd: { bufAddr: at, dbAddr: at + 0x10_0000n } }), "a QP");
    for (const state of ["INIT", "RTR", "RTS"] as const) ok(ibModifyQp(qp, state), `a QP to ${state}`);
    return nic.qp(qp, layout);
  };
  /** Creates the requester QP (on `sendCq`) and the responder QP, in RTS, connected. */
  const connect = (sendCq: IbCq) => {
    const a = makeQp(sendCq, 0x300_0000n);
    const b = makeQp(recvCq, 0x400_0000n);
    nicConnect(a, b, wire);
    return { a, b };
  };
  /** An RDMA WRITE (or `opcode`) of `bytes` from `src` + `offset` to `dst` + `remoteOffset`. */
  const write = (wrId: number, bytes: number, offset = 0, remoteOffset = offset, opcode: IbWrOpcode = "RDMA_WRITE"): IbSendWr => ({
    wrId,
    opcode,
    sge: { lkey: src.lkey, offset, length: bytes },
    remote: { rkey: dst.rkey, offset: remoteOffset },
  });
  return { topology, engine, fdTable, iommu, gpu0, buf, mm, ctx, bus, device, nic, pd, src, dst, sendCqResult, recvCq, wire, connect, write };
}

/** What {@link rdmaWriteWorld} builds. */
export type RdmaWriteWorld = ReturnType<typeof rdmaWriteWorld>;
