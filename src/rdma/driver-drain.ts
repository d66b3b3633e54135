/**
 * How the driver model stops its device inside an invalidate or revoke callback [kernel.md §d.1,
 * §d.2, §b.3]: it stops issuing DMA for the region (the caller zaps the MR or quarantines the CQ
 * or QP), then waits until the DMA it already issued through the region has landed, and only then
 * returns (and unmaps). The kernel's callback blocks for that; a callback here cannot block, so the
 * driver adds a fence to the dma-buf's resv with usage BOOKKEEP that signals when the device has
 * drained. The exporter's revoke waits for every BOOKKEEP fence before it returns
 * (`vfio-dmabuf-wait`), so nothing the importer issued lands after the revoke (I1, I22). The
 * first VFIO exporter (`vfio-dmabuf-initial`, E12) does not wait, and the same correct driver
 * then lets writes land after the revoke returned.
 *
 * A slow importer (`IbDevice.slowUnmapPs`) signals its fence that long after the drain, even with
 * nothing in flight: the revoke completes late but completes.
 *
 * Mutant `callbackReturnsBeforeDrain`: no fence; the callback returns (and unmaps) with DMA still
 * in flight.
 */
import { DmaFence } from "../dmabuf/reservation.js";
import type { IbUmemDmabuf } from "./umem-dmabuf.js";
import type { IbDevice } from "./verbs-device.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** The driver waits for `inFlight` DMA operations through the umem before its callback returns. */
    "driver.drain": { umem: string; inFlight: number; fence: string };
    /** The drain is over: nothing issued through the umem is still in flight. */
    "driver.drained": { umem: string; fence: string };
    /** Mutant: the callback returned with `inFlight` operations still in flight. */
    "driver.drain.skipped": { umem: string; inFlight: number };
  }
}

/**
 * The driver's drain, from inside an invalidate or revoke callback (resv held by the exporter).
 * @returns undefined when the device has nothing in flight through `umem` (or the mutant skips
 *   the wait); else a fence, already in the resv as BOOKKEEP, that signals once it has drained.
 */
export function driverDrainFence(device: IbDevice, umem: IbUmemDmabuf): DmaFence | undefined {
  const hw = device.hw;
  const inFlight = hw?.inFlight(umem) ?? 0;
  const slowPs = device.slowUnmapPs;
  if (hw === undefined || (inFlight === 0 && slowPs === 0)) return undefined;
  const trace = device.engine.trace;
  if (device.mutants.callbackReturnsBeforeDrain === true) {
    trace.emit("rdma", "driver.drain.skipped", { umem: umem.name, inFlight });
    return undefined;
  }
  const fence = new DmaFence(device.engine, `${umem.name}/drain#${device.drainCount++}`);
  umem.buf.resv.addFence(fence, "bookkeep");
  trace.emit("rdma", "driver.drain", { umem: umem.name, inFlight, fence: fence.name });
  hw.whenDrained(umem, () => {
    trace.emit("rdma", "driver.drained", { umem: umem.name, fence: fence.name });
    if (slowPs === 0) fence.signal();
    else fence.signalAt(device.engine.nowPs + slowPs);
  });
  return fence;
}
