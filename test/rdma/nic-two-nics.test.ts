// Goal: two NICs joined by a network link: nic0's RDMA WRITE crosses the wire and nic1 writes the
// data into gpu0's BAR (P2P through the switch), while nic0 writes its CQE; the wire's rate and
// latency show in the timing.
// Method: the one-switch machine with gpu0, nic0 and nic1; a verbs device and a NIC on each, one
// RC QP per NIC connected over a 100 Gb/s, 1 µs wire; the dma-buf MR of gpu0's BAR is nic1's.
import { describe, expect, it } from "vitest";
import type { DmaBuf } from "../../src/dmabuf/dma-buf.js";
import type { Result } from "../../src/dmabuf/errno.js";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { DmaBus } from "../../src/pci/dma-bus.js";
import { P2pdma } from "../../src/pci/p2pdma.js";
import { GEN5_SERVER } from "../../src/pci/perf-platform.js";
import { Nic } from "../../src/rdma/nic.js";
import { nicConnect } from "../../src/rdma/nic-queue.js";
import { RdmaWire } from "../../src/rdma/rdma-wire.js";
import { IB_ACCESS, ibUmemContext } from "../../src/rdma/umem.js";
import { UserMm } from "../../src/rdma/user-mm.js";
import { ibCreateCq } from "../../src/rdma/verbs-cq.js";
import { ibDevice } from "../../src/rdma/verbs-device.js";
import { ibRegUserMr, ibRegUserMrDmabuf } from "../../src/rdma/verbs-mr.js";
import { ibAllocPd } from "../../src/rdma/verbs-pd.js";
import { ibCreateQp, ibModifyQp } from "../../src/rdma/verbs-qp.js";
import { FdTable } from "../../src/vfio/fd-table.js";
import { encodeDmaBufFeature } from "../../src/vfio/uapi.js";
import { VfioPciDevice } from "../../src/vfio/vfio-pci-device.js";
import { fn, machine } from "../support/build.js";

function ok<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(result.errno);
  return result.value;
}

function twoNics(wireLatencyPs: number) {
  const topology = machine(oneSwitch(["gpu", "nic", "nic"]));
  const engine = new Engine({ seed: 7, verify: true });
  const trace = new TraceRecorder().attach(engine.trace);
  const fdTable = new FdTable();
  const gpu0 = new VfioPciDevice(engine, fn(topology, "gpu0"), { p2pdma: new P2pdma(topology), fdTable, options: {} });
  gpu0.open();
  const fd = ok(gpu0.deviceFeature(encodeDmaBufFeature({ regionIndex: 1, openFlags: 0, dmaBufFlags: 0, ranges: [{ offset: 0n, length: 1n << 20n }] })));
  const dmaBufGet = (n: number): Result<DmaBuf> => ({ ok: true, value: fdTable.dmaBufGet(n) as DmaBuf });
  const bus = new DmaBus(engine, topology, { platform: GEN5_SERVER });
  const side = (name: string, base: bigint) => {
    const ctx = ibUmemContext({ engine, mm: new UserMm({ physBase: Number(base) }), dmaBufGet });
    const device = ibDevice(ctx, fn(topology, name));
    const nic = new Nic(device, bus);
    const pd = ibAllocPd(device);
    const cq = ok(ibCreateCq(device, { entries: 16, ucmd: { bufAddr: 0x200_0000n, dbAddr: 0x210_0000n } }));
    const qp = ok(ibCreateQp({ pd, sendCq: cq, recvCq: cq, bufSize: 16 * 32 + 16 * 64, ucmd: { bufAddr: 0x300_0000n, dbAddr: 0x310_0000n } }));
    for (const state of ["INIT", "RTR", "RTS"] as const) ok(ibModifyQp(qp, state));
    return { device, nic, pd, cq, qp: nic.qp(qp, { sqDepth: 16, rqDepth: 16 }) };
  };
  const a = side("nic0", 1n << 32n);
  const b = side("nic1", 1n << 33n);
  const src = ok(ibRegUserMr({ pd: a.pd, start: 0x100_0000, length: 1 << 20, access: IB_ACCESS.LOCAL_WRITE }));
  const dst = ok(ibRegUserMrDmabuf({ pd: b.pd, dmabuf: fd, offset: 0, length: 1 << 20, access: IB_ACCESS.LOCAL_WRITE | IB_ACCESS.REMOTE_WRITE }));
  const wire = new RdmaWire(engine, { rateGbps: 100, latencyPs: wireLatencyPs });
  nicConnect(a.qp, b.qp, wire);
  const post = () =>
    a.qp.postSend([{ wrId: 9, opcode: "RDMA_WRITE", sge: { lkey: src.lkey, offset: 0, length: 8192 }, remote: { rkey: dst.rkey, offset: 4096 } }]);
  return { engine, trace, a, b, post, run: () => engine.runUntilQuiet({ eventsMax: 100_000 }).status };
}

/**
 * The NIC-level steps: [event, who, issued at, done at] in ps. A data or CQE write is one event at
 * its landing, with the time it was issued; a WQE fetch is issued and traced at the doorbell.
 */
function steps(w: ReturnType<typeof twoNics>): Array<[string, string, number, number]> {
  return w.trace.events
    .filter((e) => e.layer === "rdma" && ["wqe.fetch", "data.write", "cqe.write"].includes(e.kind))
    .map((e) => [e.kind, String(e.cq ?? e.qp), (e.issuedPs as number | undefined) ?? e.t, e.t]);
}

describe("two NICs over a network link", () => {
  // With 1 µs of wire the ACK is still on its way back when nic1's writes land in the BAR.
  it("nic0's WRITE crosses the wire; nic1 places the data in gpu0's BAR; nic0 writes its CQE after the ACK", () => {
    const w = twoNics(1_000_000);
    expect(ok(w.post())).toBeUndefined();
    expect(w.run()).toBe("quiet");
    const s = steps(w);
    // - nic0 reads the 8 KiB from host memory, then sends it: 8192 B + 2 × 82 B of headers at
    //   100 Gb/s (80 ps/B) = 668.48 ns, then 1 µs of wire latency: nic1 issues its writes ≥ 1.668 µs
    //   after the fetch (3959.966 ns: the reads of the data take the rest).
    // - nic1's 32 MWrs of 256 B go peer to peer through the switch: 215 ns of hops + 32 × 9.85 ns
    //   of serialization on nic1's link = 530.217 ns.
    // - The ACK leaves with the writes issued: 82 B (6.56 ns) + 1 µs back, at nic0 at 4966.526 ns,
    //   after the data landed; the CQE goes up to host memory in 338.096 ns (335 ns + its 88 B).
    const dataPs = 3_959_966;
    const ackPs = dataPs + 6_560 + 1_000_000;
    expect(s).toEqual([
      ["wqe.fetch", "nic0/qp#0", 336_126, 336_126],
      ["data.write", "nic1/qp#0", dataPs, dataPs + 530_217],
      ["cqe.write", "nic0/cq#0", ackPs, ackPs + 338_096],
    ]);
    expect(dataPs - 336_126).toBeGreaterThan(1_668_480);
    const outcomes = w.trace.events.filter((e) => e.kind === "data.write" || e.kind === "cqe.write").map((e) => [e.kind, e.outcome]);
    expect(outcomes).toEqual([
      ["data.write", "ok"],
      ["cqe.write", "ok"],
    ]);
    expect(w.a.nic.asyncEvents).toEqual([]);
  });

  it("the wire's latency is all that changes between a 1 µs and a 5 µs link: CQE 8 µs later (there and back)", () => {
    const cqeAt = (latency: number) => {
      const w = twoNics(latency);
      w.post();
      w.run();
      // cqe.write is traced when the CQE has landed.
      return (w.trace.events.find((e) => e.kind === "cqe.write") as { t: number }).t;
    };
    expect(cqeAt(5_000_000) - cqeAt(1_000_000)).toBe(8_000_000);
  });
});
