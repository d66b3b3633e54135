/**
 * Test support for the rdma layer: a one-switch machine (gpu0, gpu1, nic0) built with the pci
 * builders, an engine with a trace recorder, gpu0 as an open vfio-pci device exporting BAR1, the
 * user's memory, and an umem context whose `dma_buf_get` resolves fds through the VFIO fd table.
 * The vfio layer is used only here, to build a real exporter: src/rdma never imports it.
 */
import type { DmaBuf } from "../../src/dmabuf/dma-buf.js";
import type { Result } from "../../src/dmabuf/errno.js";
import { DmaIommu } from "../../src/dmabuf/map.js";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { Iommu } from "../../src/pci/iommu.js";
import { P2pdma } from "../../src/pci/p2pdma.js";
import { ibUmemContext } from "../../src/rdma/umem.js";
import { UserMm, type UserMmOptions } from "../../src/rdma/user-mm.js";
import type { VfioPciDmaBuf } from "../../src/vfio/dmabuf-export.js";
import { FdTable } from "../../src/vfio/fd-table.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import { encodeDmaBufFeature } from "../../src/vfio/uapi.js";
import { VfioPciDevice } from "../../src/vfio/vfio-pci-device.js";
import { fn, machine } from "../support/build.js";

export const MIB = 2 ** 20;
/** One microsecond in picoseconds. */
export const US = 1_000_000;
/** The fd the first export gets. */
export const FD = 3;

/** Options of {@link rdmaWorld}. */
export interface RdmaWorldOptions {
  /** IOMMU on (the builder then sets ACS redirect, so peer traffic goes through the host bridge). */
  readonly iommu?: boolean;
  readonly vfio?: VfioOptions;
  /** gpu0's MEM bit at export time; false makes the export start revoked. Default true. */
  readonly memory?: boolean;
  readonly mm?: UserMmOptions;
}

/** A world with gpu0's BAR1 `[0, 2 MiB)` exported as fd 3 (`buf`). */
export function rdmaWorld(options: RdmaWorldOptions = {}) {
  const topology = machine(oneSwitch(undefined, { iommu: options.iommu ? "on" : "off" }));
  const engine = new Engine({ seed: 1, verify: true });
  const trace = new TraceRecorder().attach(engine.trace);
  const p2pdma = new P2pdma(topology);
  const fdTable = new FdTable();
  const iommu = options.iommu ? new DmaIommu(new Iommu()) : undefined;
  const gpu0 = new VfioPciDevice(engine, fn(topology, "gpu0"), { p2pdma, fdTable, ...(iommu ? { iommu } : {}), options: options.vfio ?? {} });
  fn(topology, "gpu0").memoryEnabled = options.memory ?? true;
  gpu0.open();
  const bytes = encodeDmaBufFeature({ regionIndex: 1, openFlags: 0, dmaBufFlags: 0, ranges: [{ offset: 0n, length: BigInt(2 * MIB) }] });
  const exported = gpu0.deviceFeature(bytes);
  if (!exported.ok || exported.value !== FD) throw new Error(`export failed: ${JSON.stringify(exported)}`);
  const buf = fdTable.peek(FD) as DmaBuf<VfioPciDmaBuf>;
  const mm = new UserMm(options.mm);
  // dma_buf_get: fds 0-2 are open files that are not dma-bufs (-EINVAL); EBADF is not in the model's errno set.
  const dmaBufGet = (fd: number): Result<DmaBuf> => {
    if (fd >= 0 && fd < 3) return { ok: false, errno: "EINVAL" };
    const got = fdTable.dmaBufGet(fd);
    if (got === undefined) throw new Error(`fd ${fd} is not open (EBADF, not modelled)`);
    return { ok: true, value: got };
  };
  const ctx = ibUmemContext({ engine, mm, ...(iommu ? { iommu } : {}), dmaBufGet });
  const nic0 = fn(topology, "nic0");
  const run = () => engine.runUntilQuiet({ eventsMax: 10_000 }).status;
  return { topology, engine, trace, p2pdma, fdTable, iommu, gpu0, buf, mm, ctx, nic0, run };
}

const SHOWN_DMABUF = new Set(["attach", "attach.refused", "detach", "pin", "unpin", "map", "map.refused", "unmap", "invalidate", "release"]);
const SHOWN_VFIO = new Set(["revoke", "revoke.done", "restore"]);

/**
 * Events as `[time in µs, "layer/kind detail"]`: every rdma event, the dma-buf attachment steps,
 * and the VFIO revoke and restore. Lock hand-offs and process bookkeeping are left out.
 */
export function brief(events: readonly TraceEvent[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const event of events) {
    const shown =
      event.layer === "rdma" || (event.layer === "dmabuf" && SHOWN_DMABUF.has(event.kind)) || (event.layer === "vfio" && SHOWN_VFIO.has(event.kind));
    if (!shown) continue;
    const detail = [event.umem, event.step, event.errno].filter((v) => v !== undefined).join(" ");
    out.push([event.t / US, `${event.layer}/${event.kind}${detail === "" ? "" : ` ${detail}`}`]);
  }
  return out;
}
