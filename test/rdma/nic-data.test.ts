/**
 * The NIC engine's data path, traced TLP by TLP: an RDMA WRITE into the GPU BAR's dma-buf MR, the
 * same with the CQ in the BAR, RDMA READ, SEND/RECV, RNR retries, a write to a memory-disabled BAR
 * (UR), determinism of a long stream, and the BAR MR reached through the IOMMU.
 *
 * Machine: one switch under one root port, gpu0, gpu1 and nic0 below it, every link Gen4 x16;
 * platform GEN5_SERVER; wire 400 Gb/s, 100 ns; nic0's two QPs connected in loopback.
 */
import { describe, expect, it } from "vitest";
import type { IbWc } from "../../src/rdma/ib-wr.js";
import { startRdmaWriteStream } from "../../src/scenario/rdma-write-stream.js";
import { eventsOf, type NicPair, nicPair, readWr, recvWr, sendWr, tlps } from "./nic-trace.js";

const NS = 1000;

/*
 * Why the headline times are what they are (GEN5_SERVER, src/pci/perf-platform.ts: link hop 50 ns,
 * switch 115 ns, root complex 120 ns each way, host memory 125 ns, BAR read 125 ns; NIC processing
 * 50 ns, src/rdma/nic.ts):
 * - A Gen4 x16 link carries TLPs at 16 GT/s × 16 × 128/130 less the DLLP share ≈ 227 Gb/s, 35.2 ps
 *   per byte. A TLP's wire size is header (16 B for a 64-bit request, 12 B for a CplD) + payload +
 *   8 B framing: an MWr of 256 B is 280 B = 9.85 ns, a CplD of 256 B is 276 B = 9.71 ns, so 16 MWrs
 *   follow one another 9.85 ns apart and 16 CplDs 9.71 ns apart.
 * - CPU ↔ nic0: root complex 120 + root-port link 50 + switch 115 + nic0 link 50 = 335 ns (+ a few
 *   hundred ps of serialization): the doorbell lands at 336.1 ns; nic0 → host memory is the same
 *   route up, and `atPs` of an MRd/MWr to host memory is 120 ns after the event (the root complex).
 * - WQE fetch: MRd at the root complex 671.97 ns, + 125 memory + 335 down + 9 ns serialization of
 *   the CplD ≈ 1134.9 ns. + 50 ns processing, 8 data MRds of 512 B (MRRS) up: they reach memory at
 *   1520.8 ns; the first CplD is back 125 + 335 + 9.7 ns later (1990.5 ns), the 16th at 2136.1 ns.
 * - Wire: 4096 B + one RoCEv2 header of 82 B at 400 Gb/s (20 ps/B) = 83.56 ns, + 100 ns latency:
 *   the responder issues its writes at 2136.13 + 183.56 = 2319.69 ns. The ACK (82 B, 1.64 ns +
 *   100 ns) reaches the requester at 2421.33 ns: cqe.write.
 * - Data: nic0 → switch → gpu0 is 50 + 115 + 50 = 215 ns + 9.85 ns: the first MWr lands at 2544.5 ns,
 *   the 16th 15 × 9.85 ns later at 2692.3 ns (data.landed). The CQE MWr (64 B) leaves behind them on
 *   nic0's link and lands in host memory at 2815.4 ns (or, in the BAR, at 2695.4 ns); the
 *   doorbell-record MWr follows the CQE's landing by one more trip up (336.1 ns).
 * - Poll: host memory is a load (125 ns); a CQ in the BAR is an MMIO read: 335 ns down, 125 ns BAR
 *   read, 335 ns up + serialization.
 */
describe("RDMA WRITE of 4 KiB into the GPU BAR, loopback on nic0, trace events in full", () => {
  const run = (cqInBar: boolean) => {
    const p = nicPair(cqInBar ? { tlpEvents: true, cqInBar, cqPin: "pinned-revocable" } : { tlpEvents: true });
    p.a.postSend([p.write(1, 4096)]);
    p.run();
    const wcs: IbWc[] = [];
    p.cq.poll(1, (r) => wcs.push(...(r.ok ? r.wcs : [])));
    p.run();
    return { p, wcs };
  };

  it("CQ in host memory: doorbell, WQE fetch, data reads, wire, 16 MWrs to gpu0 BAR1, CQE, doorbell record, poll", () => {
    const { p, wcs } = run(false);
    expect(p.trace.tuples()).toEqual([
      [0, "rdma/post.send", { qp: "nic0/qp#0", firstWrId: 1, count: 1, bytes: 4096 }],
      [336126, "pci/tlp", { requester: "cpu", tlp: "MWr", address: 61778843142144, bytes: 8, target: "nic0 BAR0", status: "SC", atPs: 336126 }],
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296034304 }],
      [551971, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4296034304, bytes: 64, target: "host memory", status: "SC", atPs: 671971 }],
      [1134927, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4296034304, bytes: 64, target: "host memory", status: "SC", atPs: 1134927 }],
      [1400772, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294967296, bytes: 512, target: "host memory", status: "SC", atPs: 1520772 }],
      [1401617, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294967808, bytes: 512, target: "host memory", status: "SC", atPs: 1521617 }],
      [1402461, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294968320, bytes: 512, target: "host memory", status: "SC", atPs: 1522461 }],
      [1403305, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294968832, bytes: 512, target: "host memory", status: "SC", atPs: 1523305 }],
      [1404150, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294969344, bytes: 512, target: "host memory", status: "SC", atPs: 1524150 }],
      [1404994, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294969856, bytes: 512, target: "host memory", status: "SC", atPs: 1524994 }],
      [1405838, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294970368, bytes: 512, target: "host memory", status: "SC", atPs: 1525838 }],
      [1406683, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294970880, bytes: 512, target: "host memory", status: "SC", atPs: 1526683 }],
      [1990482, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294967296, bytes: 256, target: "host memory", status: "SC", atPs: 1990482 }],
      [2000192, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294967552, bytes: 256, target: "host memory", status: "SC", atPs: 2000192 }],
      [2009902, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294967808, bytes: 256, target: "host memory", status: "SC", atPs: 2009902 }],
      [2019612, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968064, bytes: 256, target: "host memory", status: "SC", atPs: 2019612 }],
      [2029322, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968320, bytes: 256, target: "host memory", status: "SC", atPs: 2029322 }],
      [2039032, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968576, bytes: 256, target: "host memory", status: "SC", atPs: 2039032 }],
      [2048742, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968832, bytes: 256, target: "host memory", status: "SC", atPs: 2048742 }],
      [2058452, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969088, bytes: 256, target: "host memory", status: "SC", atPs: 2058452 }],
      [2068161, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969344, bytes: 256, target: "host memory", status: "SC", atPs: 2068161 }],
      [2077871, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969600, bytes: 256, target: "host memory", status: "SC", atPs: 2077871 }],
      [2087581, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969856, bytes: 256, target: "host memory", status: "SC", atPs: 2087581 }],
      [2097291, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970112, bytes: 256, target: "host memory", status: "SC", atPs: 2097291 }],
      [2107000, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970368, bytes: 256, target: "host memory", status: "SC", atPs: 2107000 }],
      [2116710, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970624, bytes: 256, target: "host memory", status: "SC", atPs: 2116710 }],
      [2126420, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970880, bytes: 256, target: "host memory", status: "SC", atPs: 2126420 }],
      [2136130, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294971136, bytes: 256, target: "host memory", status: "SC", atPs: 2136130 }],
      [2319690, "rdma/data.write", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", address: 61572651155456, bytes: 4096 }],
      [2421330, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS", slot: 0, address: 4296015872 }],
      [2544541, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651155456, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2544541 }],
      [2554392, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651155712, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2554392 }],
      [2564242, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651155968, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2564242 }],
      [2574093, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156224, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2574093 }],
      [2583943, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156480, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2583943 }],
      [2593794, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156736, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2593794 }],
      [2603644, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156992, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2603644 }],
      [2613495, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651157248, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2613495 }],
      [2623345, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651157504, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2623345 }],
      [2633196, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651157760, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2633196 }],
      [2643046, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158016, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2643046 }],
      [2652897, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158272, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2652897 }],
      [2662747, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158528, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2662747 }],
      [2672598, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158784, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2672598 }],
      [2682448, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651159040, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2682448 }],
      [2692299, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651159296, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2692299 }],
      [2692299, "rdma/data.landed", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", outcome: "ok" }],
      [2695394, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 4296015872, bytes: 64, target: "host memory", status: "SC", atPs: 2815394 }],
      [2815394, "rdma/cqe.landed", { cq: "nic0/cq#0", wrId: 1, slot: 0, outcome: "ok" }],
      [3031520, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 4296019968, bytes: 8, target: "host memory", status: "SC", atPs: 3151520 }],
      [3276520, "rdma/cq.poll", { cq: "nic0/cq#0", count: 1, outcome: "ok" }],
    ]);
    expect(wcs).toEqual([{ wrId: 1, status: "SUCCESS", opcode: "RDMA_WRITE", qp: "nic0/qp#0", byteLen: 4096 }]);
  });

  it("CQ in the BAR (pinned-revocable): the CQE MWr goes to gpu0 BAR1 and the poll is an MMIO read by the CPU", () => {
    const { p, wcs } = run(true);
    expect(p.trace.tuples()).toEqual([
      [0, "rdma/post.send", { qp: "nic0/qp#0", firstWrId: 1, count: 1, bytes: 4096 }],
      [336126, "pci/tlp", { requester: "cpu", tlp: "MWr", address: 61778843142144, bytes: 8, target: "nic0 BAR0", status: "SC", atPs: 336126 }],
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296030208 }],
      [551971, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4296030208, bytes: 64, target: "host memory", status: "SC", atPs: 671971 }],
      [1134927, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4296030208, bytes: 64, target: "host memory", status: "SC", atPs: 1134927 }],
      [1400772, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294967296, bytes: 512, target: "host memory", status: "SC", atPs: 1520772 }],
      [1401617, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294967808, bytes: 512, target: "host memory", status: "SC", atPs: 1521617 }],
      [1402461, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294968320, bytes: 512, target: "host memory", status: "SC", atPs: 1522461 }],
      [1403305, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294968832, bytes: 512, target: "host memory", status: "SC", atPs: 1523305 }],
      [1404150, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294969344, bytes: 512, target: "host memory", status: "SC", atPs: 1524150 }],
      [1404994, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294969856, bytes: 512, target: "host memory", status: "SC", atPs: 1524994 }],
      [1405838, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294970368, bytes: 512, target: "host memory", status: "SC", atPs: 1525838 }],
      [1406683, "pci/tlp", { requester: "nic0", tlp: "MRd", address: 4294970880, bytes: 512, target: "host memory", status: "SC", atPs: 1526683 }],
      [1990482, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294967296, bytes: 256, target: "host memory", status: "SC", atPs: 1990482 }],
      [2000192, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294967552, bytes: 256, target: "host memory", status: "SC", atPs: 2000192 }],
      [2009902, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294967808, bytes: 256, target: "host memory", status: "SC", atPs: 2009902 }],
      [2019612, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968064, bytes: 256, target: "host memory", status: "SC", atPs: 2019612 }],
      [2029322, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968320, bytes: 256, target: "host memory", status: "SC", atPs: 2029322 }],
      [2039032, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968576, bytes: 256, target: "host memory", status: "SC", atPs: 2039032 }],
      [2048742, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294968832, bytes: 256, target: "host memory", status: "SC", atPs: 2048742 }],
      [2058452, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969088, bytes: 256, target: "host memory", status: "SC", atPs: 2058452 }],
      [2068161, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969344, bytes: 256, target: "host memory", status: "SC", atPs: 2068161 }],
      [2077871, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969600, bytes: 256, target: "host memory", status: "SC", atPs: 2077871 }],
      [2087581, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294969856, bytes: 256, target: "host memory", status: "SC", atPs: 2087581 }],
      [2097291, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970112, bytes: 256, target: "host memory", status: "SC", atPs: 2097291 }],
      [2107000, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970368, bytes: 256, target: "host memory", status: "SC", atPs: 2107000 }],
      [2116710, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970624, bytes: 256, target: "host memory", status: "SC", atPs: 2116710 }],
      [2126420, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294970880, bytes: 256, target: "host memory", status: "SC", atPs: 2126420 }],
      [2136130, "pci/tlp", { requester: "nic0", tlp: "CplD", address: 4294971136, bytes: 256, target: "host memory", status: "SC", atPs: 2136130 }],
      [2319690, "rdma/data.write", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", address: 61572651155456, bytes: 4096 }],
      [2421330, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS", slot: 0, address: 61572652204032 }],
      [2544541, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651155456, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2544541 }],
      [2554392, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651155712, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2554392 }],
      [2564242, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651155968, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2564242 }],
      [2574093, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156224, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2574093 }],
      [2583943, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156480, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2583943 }],
      [2593794, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156736, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2593794 }],
      [2603644, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651156992, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2603644 }],
      [2613495, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651157248, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2613495 }],
      [2623345, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651157504, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2623345 }],
      [2633196, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651157760, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2633196 }],
      [2643046, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158016, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2643046 }],
      [2652897, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158272, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2652897 }],
      [2662747, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158528, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2662747 }],
      [2672598, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651158784, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2672598 }],
      [2682448, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651159040, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2682448 }],
      [2692299, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572651159296, bytes: 256, target: "gpu0 BAR1", status: "SC", atPs: 2692299 }],
      [2692299, "rdma/data.landed", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", outcome: "ok" }],
      [2695395, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 61572652204032, bytes: 64, target: "gpu0 BAR1", status: "SC", atPs: 2695395 }],
      [2695395, "rdma/cqe.landed", { cq: "nic0/cq#0", wrId: 1, slot: 0, outcome: "ok" }],
      [2911521, "pci/tlp", { requester: "nic0", tlp: "MWr", address: 4296015872, bytes: 8, target: "host memory", status: "SC", atPs: 3031521 }],
      [3367366, "pci/tlp", { requester: "cpu", tlp: "MRd", address: 61572652204032, bytes: 64, target: "gpu0 BAR1", status: "SC", atPs: 3367366 }],
      [3710322, "pci/tlp", { requester: "cpu", tlp: "CplD", address: 61572652204032, bytes: 64, target: "gpu0 BAR1", status: "SC", atPs: 3830322 }],
      [3830322, "rdma/cq.poll", { cq: "nic0/cq#0", count: 1, outcome: "ok" }],
    ]);
    expect(wcs).toEqual([{ wrId: 1, status: "SUCCESS", opcode: "RDMA_WRITE", qp: "nic0/qp#0", byteLen: 4096 }]);
  });
});
