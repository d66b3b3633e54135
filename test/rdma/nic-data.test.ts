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
 *   the responder issues its writes at 2136.13 + 183.56 = 2319.69 ns (data.write's issuedPs). The
 *   ACK (82 B, 1.64 ns + 100 ns) reaches the requester at 2421.33 ns: the CQE write is issued
 *   (cqe.write's issuedPs; the event itself is at the landing).
 * - Data: nic0 → switch → gpu0 is 50 + 115 + 50 = 215 ns + 9.85 ns: the first MWr lands at 2544.5 ns,
 *   the 16th 15 × 9.85 ns later at 2692.3 ns (data.write). The CQE MWr (64 B) leaves behind them on
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
      [
        336126,
        "pci/tlp",
        { requester: "cpu", tlp: "MWr", address: 61778843142144, bytes: 8, target: "nic0 BAR0", barOffset: 2048, status: "SC", atPs: 336126 },
      ],
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296034304 }],
      [
        551971,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4296034304, bytes: 64, target: "host memory", barOffset: null, status: "SC", atPs: 671971 },
      ],
      [
        1134927,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4296034304, bytes: 64, target: "host memory", barOffset: null, status: "SC", atPs: 1134927 },
      ],
      [
        1400772,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294967296, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1520772 },
      ],
      [
        1401617,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294967808, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1521617 },
      ],
      [
        1402461,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294968320, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1522461 },
      ],
      [
        1403305,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294968832, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1523305 },
      ],
      [
        1404150,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294969344, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1524150 },
      ],
      [
        1404994,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294969856, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1524994 },
      ],
      [
        1405838,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294970368, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1525838 },
      ],
      [
        1406683,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294970880, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1526683 },
      ],
      [
        1990482,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294967296, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 1990482 },
      ],
      [
        2000192,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294967552, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2000192 },
      ],
      [
        2009902,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294967808, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2009902 },
      ],
      [
        2019612,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968064, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2019612 },
      ],
      [
        2029322,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968320, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2029322 },
      ],
      [
        2039032,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968576, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2039032 },
      ],
      [
        2048742,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968832, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2048742 },
      ],
      [
        2058452,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969088, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2058452 },
      ],
      [
        2068161,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969344, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2068161 },
      ],
      [
        2077871,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969600, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2077871 },
      ],
      [
        2087581,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969856, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2087581 },
      ],
      [
        2097291,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970112, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2097291 },
      ],
      [
        2107000,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970368, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2107000 },
      ],
      [
        2116710,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970624, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2116710 },
      ],
      [
        2126420,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970880, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2126420 },
      ],
      [
        2136130,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294971136, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2136130 },
      ],
      [
        2544541,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651155456, bytes: 256, target: "gpu0 BAR1", barOffset: 0, status: "SC", atPs: 2544541 },
      ],
      [
        2554392,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651155712, bytes: 256, target: "gpu0 BAR1", barOffset: 256, status: "SC", atPs: 2554392 },
      ],
      [
        2564242,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651155968, bytes: 256, target: "gpu0 BAR1", barOffset: 512, status: "SC", atPs: 2564242 },
      ],
      [
        2574093,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156224, bytes: 256, target: "gpu0 BAR1", barOffset: 768, status: "SC", atPs: 2574093 },
      ],
      [
        2583943,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156480, bytes: 256, target: "gpu0 BAR1", barOffset: 1024, status: "SC", atPs: 2583943 },
      ],
      [
        2593794,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156736, bytes: 256, target: "gpu0 BAR1", barOffset: 1280, status: "SC", atPs: 2593794 },
      ],
      [
        2603644,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156992, bytes: 256, target: "gpu0 BAR1", barOffset: 1536, status: "SC", atPs: 2603644 },
      ],
      [
        2613495,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651157248, bytes: 256, target: "gpu0 BAR1", barOffset: 1792, status: "SC", atPs: 2613495 },
      ],
      [
        2623345,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651157504, bytes: 256, target: "gpu0 BAR1", barOffset: 2048, status: "SC", atPs: 2623345 },
      ],
      [
        2633196,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651157760, bytes: 256, target: "gpu0 BAR1", barOffset: 2304, status: "SC", atPs: 2633196 },
      ],
      [
        2643046,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158016, bytes: 256, target: "gpu0 BAR1", barOffset: 2560, status: "SC", atPs: 2643046 },
      ],
      [
        2652897,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158272, bytes: 256, target: "gpu0 BAR1", barOffset: 2816, status: "SC", atPs: 2652897 },
      ],
      [
        2662747,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158528, bytes: 256, target: "gpu0 BAR1", barOffset: 3072, status: "SC", atPs: 2662747 },
      ],
      [
        2672598,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158784, bytes: 256, target: "gpu0 BAR1", barOffset: 3328, status: "SC", atPs: 2672598 },
      ],
      [
        2682448,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651159040, bytes: 256, target: "gpu0 BAR1", barOffset: 3584, status: "SC", atPs: 2682448 },
      ],
      [
        2692299,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651159296, bytes: 256, target: "gpu0 BAR1", barOffset: 3840, status: "SC", atPs: 2692299 },
      ],
      // One data.write per message, when its last MWr has landed; issued when the WRITE came off the wire.
      [2692299, "rdma/data.write", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", address: 61572651155456, bytes: 4096, issuedPs: 2319690, outcome: "ok" }],
      [
        2695394,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 4296015872, bytes: 64, target: "host memory", barOffset: null, status: "SC", atPs: 2815394 },
      ],
      // The CQE write, at its landing; issued when the ACK reached the requester.
      [
        2815394,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS", slot: 0, address: 4296015872, issuedPs: 2421330, outcome: "ok" },
      ],
      [
        3031520,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 4296019968, bytes: 8, target: "host memory", barOffset: null, status: "SC", atPs: 3151520 },
      ],
      [3276520, "rdma/cq.poll", { cq: "nic0/cq#0", count: 1, outcome: "ok" }],
    ]);
    expect(wcs).toEqual([{ wrId: 1, status: "SUCCESS", opcode: "RDMA_WRITE", qp: "nic0/qp#0", byteLen: 4096 }]);
  });

  it("CQ in the BAR (pinned-revocable): the CQE MWr goes to gpu0 BAR1 and the poll is an MMIO read by the CPU", () => {
    const { p, wcs } = run(true);
    expect(p.trace.tuples()).toEqual([
      [0, "rdma/post.send", { qp: "nic0/qp#0", firstWrId: 1, count: 1, bytes: 4096 }],
      [
        336126,
        "pci/tlp",
        { requester: "cpu", tlp: "MWr", address: 61778843142144, bytes: 8, target: "nic0 BAR0", barOffset: 2048, status: "SC", atPs: 336126 },
      ],
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296030208 }],
      [
        551971,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4296030208, bytes: 64, target: "host memory", barOffset: null, status: "SC", atPs: 671971 },
      ],
      [
        1134927,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4296030208, bytes: 64, target: "host memory", barOffset: null, status: "SC", atPs: 1134927 },
      ],
      [
        1400772,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294967296, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1520772 },
      ],
      [
        1401617,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294967808, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1521617 },
      ],
      [
        1402461,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294968320, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1522461 },
      ],
      [
        1403305,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294968832, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1523305 },
      ],
      [
        1404150,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294969344, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1524150 },
      ],
      [
        1404994,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294969856, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1524994 },
      ],
      [
        1405838,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294970368, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1525838 },
      ],
      [
        1406683,
        "pci/tlp",
        { requester: "nic0", tlp: "MRd", address: 4294970880, bytes: 512, target: "host memory", barOffset: null, status: "SC", atPs: 1526683 },
      ],
      [
        1990482,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294967296, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 1990482 },
      ],
      [
        2000192,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294967552, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2000192 },
      ],
      [
        2009902,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294967808, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2009902 },
      ],
      [
        2019612,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968064, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2019612 },
      ],
      [
        2029322,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968320, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2029322 },
      ],
      [
        2039032,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968576, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2039032 },
      ],
      [
        2048742,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294968832, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2048742 },
      ],
      [
        2058452,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969088, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2058452 },
      ],
      [
        2068161,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969344, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2068161 },
      ],
      [
        2077871,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969600, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2077871 },
      ],
      [
        2087581,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294969856, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2087581 },
      ],
      [
        2097291,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970112, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2097291 },
      ],
      [
        2107000,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970368, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2107000 },
      ],
      [
        2116710,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970624, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2116710 },
      ],
      [
        2126420,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294970880, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2126420 },
      ],
      [
        2136130,
        "pci/tlp",
        { requester: "nic0", tlp: "CplD", address: 4294971136, bytes: 256, target: "host memory", barOffset: null, status: "SC", atPs: 2136130 },
      ],
      [
        2544541,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651155456, bytes: 256, target: "gpu0 BAR1", barOffset: 0, status: "SC", atPs: 2544541 },
      ],
      [
        2554392,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651155712, bytes: 256, target: "gpu0 BAR1", barOffset: 256, status: "SC", atPs: 2554392 },
      ],
      [
        2564242,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651155968, bytes: 256, target: "gpu0 BAR1", barOffset: 512, status: "SC", atPs: 2564242 },
      ],
      [
        2574093,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156224, bytes: 256, target: "gpu0 BAR1", barOffset: 768, status: "SC", atPs: 2574093 },
      ],
      [
        2583943,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156480, bytes: 256, target: "gpu0 BAR1", barOffset: 1024, status: "SC", atPs: 2583943 },
      ],
      [
        2593794,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156736, bytes: 256, target: "gpu0 BAR1", barOffset: 1280, status: "SC", atPs: 2593794 },
      ],
      [
        2603644,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651156992, bytes: 256, target: "gpu0 BAR1", barOffset: 1536, status: "SC", atPs: 2603644 },
      ],
      [
        2613495,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651157248, bytes: 256, target: "gpu0 BAR1", barOffset: 1792, status: "SC", atPs: 2613495 },
      ],
      [
        2623345,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651157504, bytes: 256, target: "gpu0 BAR1", barOffset: 2048, status: "SC", atPs: 2623345 },
      ],
      [
        2633196,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651157760, bytes: 256, target: "gpu0 BAR1", barOffset: 2304, status: "SC", atPs: 2633196 },
      ],
      [
        2643046,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158016, bytes: 256, target: "gpu0 BAR1", barOffset: 2560, status: "SC", atPs: 2643046 },
      ],
      [
        2652897,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158272, bytes: 256, target: "gpu0 BAR1", barOffset: 2816, status: "SC", atPs: 2652897 },
      ],
      [
        2662747,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158528, bytes: 256, target: "gpu0 BAR1", barOffset: 3072, status: "SC", atPs: 2662747 },
      ],
      [
        2672598,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651158784, bytes: 256, target: "gpu0 BAR1", barOffset: 3328, status: "SC", atPs: 2672598 },
      ],
      [
        2682448,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651159040, bytes: 256, target: "gpu0 BAR1", barOffset: 3584, status: "SC", atPs: 2682448 },
      ],
      [
        2692299,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572651159296, bytes: 256, target: "gpu0 BAR1", barOffset: 3840, status: "SC", atPs: 2692299 },
      ],
      // One data.write per message, when its last MWr has landed; issued when the WRITE came off the wire.
      [2692299, "rdma/data.write", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", address: 61572651155456, bytes: 4096, issuedPs: 2319690, outcome: "ok" }],
      [
        2695395,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 61572652204032, bytes: 64, target: "gpu0 BAR1", barOffset: 1048576, status: "SC", atPs: 2695395 },
      ],
      // Issued when the ACK reached the requester (2421.33 ns), landed in the BAR right behind the data.
      [
        2695395,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS", slot: 0, address: 61572652204032, issuedPs: 2421330, outcome: "ok" },
      ],
      [
        2911521,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: 4296015872, bytes: 8, target: "host memory", barOffset: null, status: "SC", atPs: 3031521 },
      ],
      [
        3367366,
        "pci/tlp",
        { requester: "cpu", tlp: "MRd", address: 61572652204032, bytes: 64, target: "gpu0 BAR1", barOffset: 1048576, status: "SC", atPs: 3367366 },
      ],
      [
        3710322,
        "pci/tlp",
        { requester: "cpu", tlp: "CplD", address: 61572652204032, bytes: 64, target: "gpu0 BAR1", barOffset: 1048576, status: "SC", atPs: 3830322 },
      ],
      [3830322, "rdma/cq.poll", { cq: "nic0/cq#0", count: 1, outcome: "ok" }],
    ]);
    expect(wcs).toEqual([{ wrId: 1, status: "SUCCESS", opcode: "RDMA_WRITE", qp: "nic0/qp#0", byteLen: 4096 }]);
  });
});

/** The rdma events other than the post, as `[t, kind, fields]`. */
const rdma = (p: NicPair) => eventsOf(p.trace, "rdma/").filter(([, k]) => k !== "rdma/post.send");

describe("RDMA READ, SEND/RECV and RNR", () => {
  it("RDMA READ of 512 B: the responder reads gpu0 BAR1 peer to peer, the requester writes src in host memory, then the CQE", () => {
    const p = nicPair({ tlpEvents: true });
    p.a.postSend([readWr(p, 7, 512)]);
    p.run();
    expect(
      tlps(p.trace)
        .filter(([, who]) => who === "nic0")
        .slice(2, 8),
    ).toEqual([
      // After the WQE fetch (MRd + CplD), processing and the request on the wire (82 B + 100 ns):
      [1502412, "nic0", "MRd", 512, "gpu0 BAR1", "SC"],
      // 125 ns BAR read + 215 ns back + 9.71 ns per CplD.
      [1852122, "nic0", "CplD", 256, "gpu0 BAR1", "SC"],
      [1861832, "nic0", "CplD", 256, "gpu0 BAR1", "SC"],
      // The response (512 + 82 B at 20 ps/B + 100 ns) arrives, the requester writes src.
      [2318563, "nic0", "MWr", 256, "host memory", "SC"],
      [2328414, "nic0", "MWr", 256, "host memory", "SC"],
      [2666510, "nic0", "MWr", 64, "host memory", "SC"],
    ]);
    expect(rdma(p)).toEqual([
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296034304 }],
      // The WQE completes when its local writes have landed (issuedPs: the second 256 B MWr above);
      // the 64 B MWr at 2666.510 ns is this CQE.
      [
        2666510,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 7, status: "SUCCESS", slot: 0, address: 4296015872, issuedPs: 2328414, outcome: "ok" },
      ],
    ]);
  });

  it("SEND into a posted receive in src: data written, the requester's CQE, then the receive's CQE once the data landed", () => {
    const p = nicPair();
    expect(p.b.postRecv([recvWr(p, 100, 4096, 8192)])).toEqual({ ok: true, value: undefined });
    p.a.postSend([sendWr(p, 8, 1024)]);
    p.run();
    expect(rdma(p)).toEqual([
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296034304 }],
      // src + 8192 (src's umem starts at DMA address 4294967296); issued at 2939.407 ns, the ACK left
      // then and reached the requester at 3041.047 ns, which issued its CQE (landed at 3379.143 ns).
      // The receive's CQE is issued once the data has landed (3313.810 ns).
      [3313810, "rdma/data.write", { qp: "nic0/qp#1", wrId: 8, mr: "nic0/mr#0", address: 4294975488, bytes: 1024, issuedPs: 2939407, outcome: "ok" }],
      [
        3379143,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 8, status: "SUCCESS", slot: 0, address: 4296015872, issuedPs: 3041047, outcome: "ok" },
      ],
      [
        3651906,
        "rdma/cqe.write",
        { cq: "nic0/cq#1", qp: "nic0/qp#1", wrId: 100, status: "SUCCESS", slot: 0, address: 4296024064, issuedPs: 3313810, outcome: "ok" },
      ],
    ]);
    const got: IbWc[] = [];
    p.rcq.poll(4, (r) => got.push(...(r.ok ? r.wcs : [])));
    p.run();
    expect(got).toEqual([{ wrId: 100, status: "SUCCESS", opcode: "RECV", qp: "nic0/qp#1", byteLen: 1024 }]);
  });

  const RNR = { rnrRetry: 2, rnrTimerPs: 1000 * NS };

  it("RNR: no receive posted, the SEND is resent rnrRetry (2) times rnrTimerPs apart, then RNR_RETRY_EXC_ERR and the QP in ERR", () => {
    const p = nicPair({ nic: RNR });
    p.a.postSend([sendWr(p, 9, 1024)]);
    p.run();
    const nak = { qp: "nic0/qp#1", wrId: 9, status: "RNR" };
    const resend = { qp: "nic0/qp#0", wrId: 9, opcode: "SEND", bytes: 1024 };
    expect(rdma(p)).toEqual([
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296034304 }],
      [2141732, "rdma/responder.nak", nak],
      // The NAK reaches the requester 101.64 ns later (82 B + 100 ns); the resend 1 µs after that.
      [2141732 + 101640 + 1000 * NS, "rdma/wire.resend", resend],
      [3365492, "rdma/responder.nak", nak],
      [3365492 + 101640 + 1000 * NS, "rdma/wire.resend", resend],
      [4589252, "rdma/responder.nak", nak],
      [4690892, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 9, status: "RNR_RETRY_EXC_ERR" }],
      [4690892, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "receiver not ready", fatal: false }],
      // The error CQE, issued with the failure, lands one trip up later.
      [
        5028988,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 9, status: "RNR_RETRY_EXC_ERR", slot: 0, address: 4296015872, issuedPs: 4690892, outcome: "ok" },
      ],
    ]);
    expect(p.a.qp.state).toBe("ERR");
    expect(p.nic.asyncEvents).toEqual([]);
  });

  it("RNR: a receive posted between the first NAK and the first resend makes the resend succeed", () => {
    const p = nicPair({ nic: RNR });
    p.a.postSend([sendWr(p, 9, 1024)]);
    p.engine.scheduleAt(2500 * NS, () => p.b.postRecv([recvWr(p, 101, 4096, 8192)]));
    p.run();
    expect(rdma(p)).toEqual([
      [336126, "rdma/wqe.fetch", { qp: "nic0/qp#0", first: 0, count: 1, address: 4296034304 }],
      [2141732, "rdma/responder.nak", { qp: "nic0/qp#1", wrId: 9, status: "RNR" }],
      [3243372, "rdma/wire.resend", { qp: "nic0/qp#0", wrId: 9, opcode: "SEND", bytes: 1024 }],
      [4537570, "rdma/data.write", { qp: "nic0/qp#1", wrId: 9, mr: "nic0/mr#0", address: 4294975488, bytes: 1024, issuedPs: 4163167, outcome: "ok" }],
      [
        4602903,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 9, status: "SUCCESS", slot: 0, address: 4296015872, issuedPs: 4264807, outcome: "ok" },
      ],
      [
        4875666,
        "rdma/cqe.write",
        { cq: "nic0/cq#1", qp: "nic0/qp#1", wrId: 101, status: "SUCCESS", slot: 0, address: 4296024064, issuedPs: 4537570, outcome: "ok" },
      ],
    ]);
    expect(p.a.qp.state).toBe("RTS");
  });
});

describe("UR: gpu0's Memory Space Enable cleared directly on the PciFunction (no VFIO revoke)", () => {
  const UR = { requester: "nic0", target: "gpu0 BAR1", tlp: "MWr", reason: "Memory Space Enable is off" };

  it("the data MWrs are UR and data.write says so; the requester still completes SUCCESS (posted writes are not acknowledged end to end)", () => {
    const p = nicPair({ tlpEvents: true });
    p.gpu0.fn.memoryEnabled = false;
    p.a.postSend([p.write(1, 512)]);
    p.run();
    expect(eventsOf(p.trace, "pci/tlp.ur", "rdma/data", "rdma/cqe")).toEqual([
      [2336923, "pci/tlp.ur", { ...UR, address: 61572651155456 }],
      [2346774, "pci/tlp.ur", { ...UR, address: 61572651155712 }],
      // Issued at 2112.072 ns; the ACK left then, so the requester issued its CQE at 2213.712 ns.
      [2346774, "rdma/data.write", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", address: 61572651155456, bytes: 512, issuedPs: 2112072, outcome: "ur" }],
      [
        2551808,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS", slot: 0, address: 4296015872, issuedPs: 2213712, outcome: "ok" },
      ],
    ]);
    const got: IbWc[] = [];
    p.cq.poll(4, (r) => got.push(...(r.ok ? r.wcs : [])));
    p.run();
    expect(got).toEqual([{ wrId: 1, status: "SUCCESS", opcode: "RDMA_WRITE", qp: "nic0/qp#0", byteLen: 512 }]);
  });

  it("with the CQ in the BAR the CQE is lost (UR) and a poll, an MMIO read answered UR, fails", () => {
    const p = nicPair({ tlpEvents: true, cqInBar: true, cqPin: "pinned-revocable" });
    p.gpu0.fn.memoryEnabled = false;
    p.a.postSend([p.write(1, 512)]);
    p.run();
    p.trace.events.length = 0;
    const results: unknown[] = [];
    p.cq.poll(4, (r) => results.push(r));
    p.run();
    expect(results).toEqual([{ ok: false, outcome: "ur" }]);
    expect(eventsOf(p.trace, "pci/", "rdma/")).toEqual([
      // The MRd reached the BAR, which refused it: `pci/tlp` says UR.
      [
        3103779,
        "pci/tlp",
        { requester: "cpu", tlp: "MRd", address: 61572652204032, bytes: 256, target: "gpu0 BAR1", barOffset: 1048576, status: "UR", atPs: 3103779 },
      ],
      [3103779, "pci/tlp.ur", { requester: "cpu", target: "gpu0 BAR1", tlp: "MRd", address: 61572652204032, reason: "Memory Space Enable is off" }],
      [
        3319483,
        "pci/tlp",
        { requester: "cpu", tlp: "CplD", address: 61572652204032, bytes: 0, target: "gpu0 BAR1", barOffset: 1048576, status: "UR", atPs: 3439483 },
      ],
      [3439483, "rdma/cq.poll", { cq: "nic0/cq#0", count: 0, outcome: "ur" }],
    ]);
  });
});

describe("determinism of a stream of 500 RDMA WRITEs (CQ in the BAR, pinned-revocable)", () => {
  const stream = (wire?: { rateGbps: number; latencyPs: number }) => {
    const p = nicPair({ cqInBar: true, cqPin: "pinned-revocable", verify: false, ...(wire ? { wire } : {}) });
    const s = startRdmaWriteStream(p, p.a, p.cq, { count: 500, bytes: 4096 });
    expect(p.run()).toBe("quiet");
    return { fingerprint: p.engine.trace.fingerprint.hex(), wcs: s.reaped(), endPs: p.engine.nowPs };
  };

  it("twice: the same fingerprint and the same completions; a different wire latency changes the fingerprint", () => {
    const first = stream();
    expect(first.wcs.map((wc) => wc.wrId)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(first.wcs.every((wc) => wc.status === "SUCCESS" && wc.byteLen === 4096)).toBe(true);
    expect(stream()).toEqual(first);
    const slower = stream({ rateGbps: 400, latencyPs: 200 * NS });
    expect(slower.fingerprint).not.toBe(first.fingerprint);
    expect(slower.endPs).not.toBe(first.endPs);
  });
});

describe("IOMMU on: the BAR MR is an IOVA, its writes go up through the root complex (THRU_HOST_BRIDGE)", () => {
  it("the data write's address routes through the root complex, the IOMMU translates, and the writes land in gpu0 BAR1", () => {
    const p = nicPair({ iommu: true, tlpEvents: true });
    p.a.postSend([p.write(1, 512)]);
    p.run();
    const write = eventsOf(p.trace, "rdma/data.write")[0]?.[2] as { address: number };
    const bar1 = p.gpu0.fn.bars.find((b) => b.index === 1) as { busAddress: number; sizeBytes: number };
    // Not a bus address of the BAR: an IOVA the IOMMU maps to it.
    expect(write.address < bar1.busAddress || write.address >= bar1.busAddress + bar1.sizeBytes).toBe(true);
    const route = p.bus.routeOf(p.nic.device.fn, write.address);
    expect(route.targetName).toBe("gpu0 BAR1");
    expect(route.hops.request.some((hop) => hop.kind === "root-complex")).toBe(true);
    expect(p.iommu?.iommu.stats().faults).toBe(0);
    // 215 ns up + 120 ns root complex + IOMMU walk + 200 ns peer-to-peer extra + 215 ns down: about 1 µs after the writes were issued (data.write's issuedPs; no IOMMU: 225 ns).
    expect(eventsOf(p.trace, "rdma/data", "pci/tlp").filter(([, k, f]) => k !== "pci/tlp" || f.target === "gpu0 BAR1")).toEqual([
      [
        3661774,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: write.address, bytes: 256, target: "gpu0 BAR1", barOffset: 0, status: "SC", atPs: 3661774 },
      ],
      [
        3671625,
        "pci/tlp",
        { requester: "nic0", tlp: "MWr", address: write.address + 256, bytes: 256, target: "gpu0 BAR1", barOffset: 256, status: "SC", atPs: 3671625 },
      ],
      [3671625, "rdma/data.write", { qp: "nic0/qp#1", wrId: 1, mr: "nic0/mr#1", address: write.address, bytes: 512, issuedPs: 2632072, outcome: "ok" }],
    ]);
  });
});
