import { describe, expect, it } from "vitest";
import { createI13Monitor } from "../../src/check/i13-lock-order.js";
import { LockTracker } from "../../src/check/lock-tracker.js";
import { correctRun, ev, feed, summary } from "./export-world.js";

const BUF = "gpu0/bar1#0";
const NIC = "0000:05:00.0";
const lock = (holder: string, buf = BUF) => ev("dmabuf", "resv.lock", { buf, holder });
const unlock = (holder: string, buf = BUF) => ev("dmabuf", "resv.unlock", { buf, holder });

describe("I13: memory_lock → resv; importers attach/detach/put unlocked and map/unmap/pin locked", () => {
  it("is silent over the correct model under both profiles", () => {
    expect(correctRun([createI13Monitor()]).violations).toEqual([]);
    expect(correctRun([createI13Monitor()], { profile: "vfio-dmabuf-initial" }).violations).toEqual([]);
  });

  it("hand-written (the model asserts these, so no mutant reaches them): one sequence per rule", () => {
    const ROWS: ReadonlyArray<[string, ReturnType<typeof ev>[], string | undefined, string[] | undefined]> = [
      [
        "memory_lock taken inside a resv",
        [lock("gpu0:reset"), ev("vfio", "memory_lock.down_write", { device: "gpu0", holder: "gpu0:reset" })],
        `gpu0:reset takes memory_lock of gpu0 while holding the resv of ${BUF}: the order is memory_lock → resv [kernel.md §c.5]`,
        ["dmabuf/resv.lock", "vfio/memory_lock.down_write"],
      ],
      [
        "memory_lock → resv, released in order: fine",
        [
          ev("vfio", "memory_lock.down_read", { device: "gpu0", holder: "h" }),
          lock("h"),
          unlock("h"),
          ev("vfio", "memory_lock.up_read", { device: "gpu0", holder: "h" }),
        ],
        undefined,
        undefined,
      ],
      [
        "attach with the importer holding the resv",
        [lock(NIC), ev("dmabuf", "attach", { buf: BUF, attach: 0, importer: "nic0", importerId: NIC })],
        `${BUF}: nic0 calls attach holding the buffer's resv (importers must not) [kernel.md §b.1]`,
        ["dmabuf/resv.lock", "dmabuf/attach"],
      ],
      [
        "attach while the exporter holds the resv: fine",
        [lock("gpu0:close"), ev("dmabuf", "attach", { buf: BUF, importer: "nic0", importerId: NIC })],
        undefined,
        undefined,
      ],
      [
        "detach with the resv held",
        [lock(NIC), ev("dmabuf", "detach", { buf: BUF, attach: 0, importer: "nic0", importerId: NIC })],
        `${BUF}: nic0 calls detach holding the buffer's resv (importers must not) [kernel.md §b.1]`,
        ["dmabuf/resv.lock", "dmabuf/detach"],
      ],
      [
        "final put with the resv held",
        [lock(NIC), ev("dmabuf", "release", { buf: BUF })],
        `${BUF}: released (final dma_buf_put) while ${NIC} holds its resv [kernel.md §b.1]`,
        ["dmabuf/resv.lock", "dmabuf/release"],
      ],
      [
        "map after the unlock",
        [lock(NIC), unlock(NIC), ev("dmabuf", "map", { buf: BUF, importer: "nic0" })],
        `${BUF}: nic0 calls map without the buffer's resv held [kernel.md §b.1]`,
        ["dmabuf/resv.unlock", "dmabuf/map"],
      ],
      [
        "pin without ever locking",
        [ev("dmabuf", "pin", { buf: BUF, importer: "nic0" })],
        `${BUF}: nic0 calls pin without the buffer's resv held [kernel.md §b.1]`,
        ["dmabuf/pin"],
      ],
      ["unmap under the resv: fine", [lock(NIC), ev("dmabuf", "unmap", { buf: BUF, importer: "nic0" }), unlock(NIC)], undefined, undefined],
    ];
    const results = ROWS.map(([name, events]) => {
      const found = summary(feed(createI13Monitor(), events)[0]);
      return [name, found?.message, found?.chain];
    });
    expect(results).toEqual(ROWS.map(([name, , message, chain]) => [name, message, chain]));
  });

  it("the tracker: a VFIO export is the dma-buf exported right after a registration get; resv sets per holder; read locks count as held", () => {
    const t = new LockTracker();
    for (const event of [
      ev("dmabuf", "export", { buf: "host" }),
      ev("vfio", "registration.get", { device: "gpu0", refs: 2 }),
      ev("dmabuf", "export", { buf: BUF }),
      lock("x", "a"),
      lock("x", "b"),
      unlock("x", "a"),
      ev("vfio", "memory_lock.down_read", { device: "gpu0", holder: "r" }),
    ])
      t.observe(event);
    expect([t.deviceOf("host"), t.deviceOf(BUF), [...t.resvHeldBy("x").keys()], t.resvHolder("a"), t.memoryHeld("gpu0"), t.memoryWriter("gpu0")]).toEqual([
      undefined,
      "gpu0",
      ["b"],
      undefined,
      true,
      undefined,
    ]);
  });
});
