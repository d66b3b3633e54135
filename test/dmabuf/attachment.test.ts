import { describe, expect, it } from "vitest";
import {
  type DmaBufImporterOps,
  dmaBufAttach,
  dmaBufAttachRevocable,
  dmaBufDetach,
  dmaBufInvalidateMappings,
  dmaBufPin,
  dmaBufUnpin,
} from "../../src/dmabuf/attachment.js";
import { dmaBufPut } from "../../src/dmabuf/dma-buf.js";
import { dmaBufMapAttachment, dmaBufUnmapAttachment } from "../../src/dmabuf/map.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { type AttachPolicy, type BarExporterPriv, barExporter, fn, machine, recordedEngine } from "./world.js";

const GIB = 2 ** 30;
const topology = machine(oneSwitch());
const gpu0 = fn(topology, "gpu0");
const nic0 = fn(topology, "nic0");
const bar1 = gpu0.bars.find((b) => b.index === 1)?.cpuAddress ?? 0;

function setup(options: { policy?: AttachPolicy; pin?: boolean } = {}) {
  const { engine, trace } = recordedEngine();
  const buf = barExporter(engine, topology, gpu0, 1, { ranges: [{ paddr: bar1, len: GIB }], ...options });
  return { engine, trace, buf };
}

const IMPORTERS: ReadonlyArray<[string, DmaBufImporterOps<BarExporterPriv> | undefined]> = [
  ["static", undefined],
  ["dynamic, no p2p", { allowPeer2peer: false, invalidateMappings: () => undefined }],
  ["dynamic p2p, no invalidate", { allowPeer2peer: true }],
  ["dynamic p2p + invalidate", { allowPeer2peer: true, invalidateMappings: () => undefined }],
];

describe("attach outcomes", () => {
  it("importer kind × exporter policy: the attachment's flags, or the exporter's veto", () => {
    const table = (["any", "vfio-initial", "vfio"] as const).map((policy) => [
      policy,
      IMPORTERS.map(([label, ops]) => {
        const { buf } = setup({ policy });
        const result = dmaBufAttach(buf, nic0, ops);
        if (!result.ok) return [label, result.errno];
        const a = result.value;
        return [label, { dynamic: a.dynamic, peer2peer: a.peer2peer, revocable: dmaBufAttachRevocable(a), listed: buf.attachments.includes(a) }];
      }),
    ]);
    const ok = (dynamic: boolean, peer2peer: boolean, revocable: boolean) => ({ dynamic, peer2peer, revocable, listed: true });
    expect(table).toEqual([
      [
        "any",
        [
          ["static", ok(false, false, false)],
          ["dynamic, no p2p", ok(true, false, true)],
          ["dynamic p2p, no invalidate", ok(true, true, false)],
          ["dynamic p2p + invalidate", ok(true, true, true)],
        ],
      ],
      [
        "vfio-initial",
        [
          ["static", "EOPNOTSUPP"],
          ["dynamic, no p2p", "EOPNOTSUPP"],
          ["dynamic p2p, no invalidate", ok(true, true, false)],
          ["dynamic p2p + invalidate", ok(true, true, true)],
        ],
      ],
      [
        "vfio",
        [
          ["static", "EOPNOTSUPP"],
          ["dynamic, no p2p", "EOPNOTSUPP"],
          ["dynamic p2p, no invalidate", "EOPNOTSUPP"],
          ["dynamic p2p + invalidate", ok(true, true, true)],
        ],
      ],
    ]);
  });

  it("a veto is traced and leaves nothing attached; attach and detach are traced with the exporter ops in order", () => {
    const { buf, trace } = setup();
    expect(dmaBufAttach(buf, nic0)).toEqual({ ok: false, errno: "EOPNOTSUPP" });
    const attached = dmaBufAttach(buf, nic0, { allowPeer2peer: true, invalidateMappings: () => undefined });
    if (!attached.ok) throw new Error("refused");
    dmaBufDetach(attached.value);
    expect(buf.attachments).toEqual([]);
    expect(buf.priv.calls).toEqual(["attach nic0", "attach nic0", "detach nic0"]);
    expect(trace.tuples()).toEqual([
      [0, "dmabuf/export", { buf: "gpu0/bar1", size: GIB, dynamic: false }],
      [0, "dmabuf/attach.refused", { buf: "gpu0/bar1", importer: "nic0", errno: "EOPNOTSUPP" }],
      [0, "dmabuf/attach", { buf: "gpu0/bar1", attach: 1, importer: "nic0", dynamic: true, peer2peer: true, revocable: true, importerId: "0000:05:00.0" }],
      [0, "dmabuf/detach", { buf: "gpu0/bar1", attach: 1, importer: "nic0", importerId: "0000:05:00.0" }],
    ]);
  });
});

describe("the locking rules of §b.1 are asserted", () => {
  it("each broken rule throws", () => {
    const dyn = { allowPeer2peer: true, invalidateMappings: () => undefined };
    type Setup = ReturnType<typeof setup>;
    const attachTo = (s: Setup, ops: DmaBufImporterOps<BarExporterPriv> = dyn) => {
      const r = dmaBufAttach(s.buf, nic0, ops);
      if (!r.ok) throw new Error("refused");
      return r.value;
    };
    const rows: Array<[string, (s: Setup) => void, string]> = [
      [
        "attach holding the resv",
        (s) => {
          s.buf.resv.lock(nic0.id);
          dmaBufAttach(s.buf, nic0, dyn);
        },
        "must not hold the resv",
      ],
      [
        "detach holding the resv",
        (s) => {
          const a = attachTo(s);
          s.buf.resv.lock(nic0.id);
          dmaBufDetach(a);
        },
        "must not hold the resv",
      ],
      ["pin without the resv", (s) => dmaBufPin(attachTo(s)), "must be held"],
      ["unpin without the resv", (s) => dmaBufUnpin(attachTo(s)), "must be held"],
      ["map without the resv", (s) => dmaBufMapAttachment(attachTo(s)), "must be held"],
      [
        "unmap without the resv",
        (s) => {
          const a = attachTo(s);
          s.buf.resv.lock(nic0.id);
          const m = dmaBufMapAttachment(a);
          s.buf.resv.unlock(nic0.id);
          if (m.ok) dmaBufUnmapAttachment(a, m.value);
        },
        "must be held",
      ],
      ["invalidate without the resv", (s) => dmaBufInvalidateMappings(s.buf), "must be held"],
      [
        "pin a static attachment",
        () => {
          const t = setup({ policy: "any" });
          const r = dmaBufAttach(t.buf, nic0);
          t.buf.resv.lock("x");
          if (r.ok) dmaBufPin(r.value);
        },
        "dma_buf_pin on static",
      ],
      [
        "unpin without pin",
        (s) => {
          const a = attachTo(s);
          s.buf.resv.lock(nic0.id);
          dmaBufUnpin(a);
        },
        "unpin without pin",
      ],
      [
        "detach while mapped",
        (s) => {
          const a = attachTo(s);
          s.buf.resv.lock(nic0.id);
          dmaBufMapAttachment(a);
          s.buf.resv.unlock(nic0.id);
          dmaBufDetach(a);
        },
        "with 1 mapping(s) left",
      ],
      [
        "detach while pinned",
        (s) => {
          const a = attachTo(s);
          s.buf.resv.lock(nic0.id);
          dmaBufPin(a);
          s.buf.resv.unlock(nic0.id);
          dmaBufDetach(a);
        },
        "while pinned",
      ],
      [
        "detach twice",
        (s) => {
          const a = attachTo(s);
          dmaBufDetach(a);
          dmaBufDetach(a);
        },
        "twice",
      ],
      [
        "detach in invalidate",
        (s) => {
          attachTo(s, { allowPeer2peer: true, invalidateMappings: (a) => dmaBufDetach(a) });
          s.buf.resv.lock("exp");
          dmaBufInvalidateMappings(s.buf);
        },
        "inside its invalidate notification",
      ],
      [
        "attach in invalidate",
        (s) => {
          attachTo(s, { allowPeer2peer: true, invalidateMappings: (a) => void dmaBufAttach(a.buf, nic0, dyn) });
          s.buf.resv.lock("exp");
          dmaBufInvalidateMappings(s.buf);
        },
        "inside its invalidate notification",
      ],
      [
        "attach after release",
        (s) => {
          dmaBufPut(s.buf);
          dmaBufAttach(s.buf, nic0, dyn);
        },
        "attach to released",
      ],
    ];
    const failures = rows.map(([label, misuse, message]) => {
      try {
        misuse(setup());
        return [label, "no throw"];
      } catch (error) {
        return [label, (error as Error).message.includes(message) ? "throws" : (error as Error).message];
      }
    });
    expect(failures).toEqual(rows.map(([label]) => [label, "throws"]));
  });

  it("the allowed forms pass: attach/detach while another context holds the resv, unmap from inside the invalidate callback", () => {
    const s = setup();
    s.buf.resv.lock("exporter:gpu0/bar1");
    const r = dmaBufAttach(s.buf, nic0, {
      allowPeer2peer: true,
      invalidateMappings: (a) => {
        for (const sgt of [...a.sgts]) dmaBufUnmapAttachment(a, sgt);
      },
    });
    if (!r.ok) throw new Error("refused");
    s.buf.resv.unlock("exporter:gpu0/bar1");
    s.buf.resv.lock(nic0.id);
    expect(dmaBufMapAttachment(r.value).ok).toBe(true);
    s.buf.resv.unlock(nic0.id);
    s.buf.resv.lock("exporter:gpu0/bar1");
    expect(dmaBufInvalidateMappings(s.buf)).toBe(1);
    expect(r.value.mapCount).toBe(0);
    s.buf.resv.unlock("exporter:gpu0/bar1");
    dmaBufDetach(r.value);
  });
});

describe("pin", () => {
  it("a dynamic importer pins through the exporter's op and unpins it; an exporter's refusal is an errno", () => {
    const s = setup({ pin: true });
    const r = dmaBufAttach(s.buf, nic0, { allowPeer2peer: true, invalidateMappings: () => undefined });
    if (!r.ok) throw new Error("refused");
    s.buf.resv.lock(nic0.id);
    expect(dmaBufPin(r.value)).toEqual({ ok: true, value: undefined });
    expect(r.value.pinCount).toBe(1);
    dmaBufUnpin(r.value);
    s.buf.resv.unlock(nic0.id);
    expect(s.buf.priv.calls).toEqual(["attach nic0", "pin nic0", "unpin nic0"]);

    const { engine } = recordedEngine();
    const refusing = barExporter(engine, topology, gpu0, 1, { ranges: [{ paddr: bar1, len: GIB }], pin: true, name: "refusing" });
    const ops = refusing.ops as { pin?: unknown };
    ops.pin = () => "EBUSY";
    const a = dmaBufAttach(refusing, nic0, { allowPeer2peer: true, invalidateMappings: () => undefined });
    if (!a.ok) throw new Error("refused");
    refusing.resv.lock(nic0.id);
    expect(dmaBufPin(a.value)).toEqual({ ok: false, errno: "EBUSY" });
    expect(a.value.pinCount).toBe(0);
  });
});
