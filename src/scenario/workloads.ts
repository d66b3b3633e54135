/**
 * A scenario's programs, started on its world at their times: the RDMA stream (connect two QPs on
 * the send CQ, then post and reap) and the one-shot QP creation with buffer descriptors. Each
 * program reports what it did, for the run's measurements and for the faults that act on it.
 */
import type { Errno } from "../dmabuf/errno.js";
import { us } from "../fabric/time.js";
import { encodeBufferDescs, IB_UVERBS_BUFFER_TYPE, type IbUverbsBufferDesc } from "../rdma/buffer-desc.js";
import { ibCreateQp, UVERBS_BUF_QP } from "../rdma/verbs-qp.js";
import type { KernelOptions } from "./kernel-options.js";
import { type RdmaWriteStream, startRdmaWriteStream } from "./rdma-write-stream.js";
import type { QpCreateWorkload, RdmaStreamWorkload, Workload } from "./scenario.js";
import type { ScenarioWorld } from "./scenario-world.js";

/** A running program. */
/** What a program completed: work requests by status, bytes moved, and the span it moved them in. */
export interface WorkloadCompletions {
  readonly ok: number;
  readonly failed: number;
  readonly bytesOk: number;
  /** From the program's start to its last successful completion reaped, ps; undefined when none succeeded. */
  readonly spanPs: readonly [number, number] | undefined;
}

/** A program of the scenario, running. */
export interface WorkloadRun {
  readonly workload: Workload;
  /** Stops reaping completions (the `cq-overflow` fault); a no-op for programs that do not poll. */
  stopPolling(): void;
  /** One line of what happened: `64 posted, 60 ok, 4 failed`, `refused: EOPNOTSUPP`. */
  summary(): string;
  /** Work completions by status, for measurements. */
  completions(): WorkloadCompletions;
}

function startStream(world: ScenarioWorld, w: RdmaStreamWorkload): WorkloadRun {
  const rdma = world.rdma;
  let stream: RdmaWriteStream | undefined;
  let refused: Errno | undefined;
  const begin = () => {
    if (!rdma.sendCqResult.ok) {
      // The finding: the newest VFIO exporter refuses a pinned CQ umem [kernel.md "How p2psim uses this sheet"].
      refused = rdma.sendCqResult.errno;
      return;
    }
    const cq = rdma.sendCqResult.value;
    const { a } = rdma.connect(cq);
    stream = startRdmaWriteStream(rdma, a, rdma.nic.cq(cq), { count: w.count, bytes: w.bytes, depth: w.depth ?? 16, read: w.op === "read" });
  };
  world.engine.scheduleAt(us(w.startUs ?? 0), begin);
  const completions = (): WorkloadCompletions => {
    const wcs = stream?.reaped() ?? [];
    const ok = wcs.filter((wc) => wc.status === "SUCCESS").length;
    const lastOk = stream?.lastOkPs();
    return { ok, failed: wcs.length - ok, bytesOk: ok * w.bytes, spanPs: stream && lastOk !== undefined ? [stream.startedPs, lastOk] : undefined };
  };
  return {
    workload: w,
    stopPolling: () => stream?.stopPolling(),
    completions,
    summary: () => {
      if (refused !== undefined) return `send CQ refused: ${refused}`;
      if (stream === undefined) return "not started";
      const c = completions();
      return `${stream.posted()} posted, ${c.ok} ok, ${c.failed} failed`;
    },
  };
}

const vaDesc = (index: number, addr: bigint, length: bigint): IbUverbsBufferDesc => ({
  fd: -1,
  type: IB_UVERBS_BUFFER_TYPE.VA,
  index,
  reserved: 0,
  addr,
  length,
});

function startQpCreate(world: ScenarioWorld, w: QpCreateWorkload, kernel: KernelOptions): WorkloadRun {
  const rdma = world.rdma;
  let outcome = "not run";
  world.engine.scheduleAt(us(w.atUs ?? 0), () => {
    // QP_BUF always; DBR_BUF is consumed by the driver, RQ_BUF (no RQ in the ucmd) is not [kernel.md §d.4].
    const descs = [
      vaDesc(UVERBS_BUF_QP.BUF, 0x510_0000n, 8192n),
      w.unconsumed ? vaDesc(UVERBS_BUF_QP.RQ_BUF, 0x530_0000n, 4096n) : vaDesc(UVERBS_BUF_QP.DBR_BUF, 0x520_0000n, 8n),
    ];
    const cq = rdma.recvCq;
    const args = { pd: rdma.pd, sendCq: cq, recvCq: cq, bufSize: 8192, ucmd: { bufAddr: 0x540_0000n, dbAddr: 0x550_0000n }, buffers: encodeBufferDescs(descs) };
    const result = ibCreateQp(args, kernel.qp);
    outcome = result.ok ? "created" : `refused: ${result.errno}`;
  });
  return { workload: w, stopPolling: () => {}, completions: () => ({ ok: 0, failed: 0, bytesOk: 0, spanPs: undefined }), summary: () => outcome };
}

/**
 * Schedules every program of the scenario on its world.
 * @returns the running programs, in the scenario's order.
 */
export function startWorkloads(world: ScenarioWorld, workloads: readonly Workload[], kernel: KernelOptions): WorkloadRun[] {
  return workloads.map((w) => (w.kind === "rdma-stream" ? startStream(world, w) : startQpCreate(world, w, kernel)));
}
