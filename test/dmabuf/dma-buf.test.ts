import { describe, expect, it } from "vitest";
import { dmaBufAttach, dmaBufDetach } from "../../src/dmabuf/attachment.js";
import { type DmaBufOps, dmaBufGet, dmaBufPut, exportDmaBuf } from "../../src/dmabuf/dma-buf.js";
import { AssertionError } from "../../src/fabric/assert.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { fn, machine, recordedEngine } from "./world.js";

const noop = () => undefined;
const base = { map: () => ({ ok: false as const, errno: "EINVAL" as const }), unmap: noop, release: noop };

describe("dma_buf_export validates the ops table once", () => {
  it("accepts or rejects each table as dma_buf_export's WARN_ONs do", () => {
    const rows: Array<[string, Record<string, unknown>]> = [
      ["map, unmap, release", base],
      ["+ attach, detach", { ...base, attach: noop, detach: noop }],
      ["+ pin, unpin", { ...base, pin: noop, unpin: noop }],
      ["- map", { unmap: noop, release: noop }],
      ["- unmap", { map: base.map, release: noop }],
      ["- release", { map: base.map, unmap: noop }],
      ["pin without unpin", { ...base, pin: noop }],
      ["unpin without pin", { ...base, unpin: noop }],
      ["map not a function", { ...base, map: 1 }],
      ["unknown op map_dma_buf", { ...base, map_dma_buf: noop }],
    ];
    const { engine } = recordedEngine();
    const outcome = rows.map(([label, ops]) => {
      try {
        const buf = exportDmaBuf(engine, { name: label, size: 4096, ops: ops as unknown as DmaBufOps<number>, priv: 0 });
        return [label, buf.dynamic ? "dynamic" : "static"];
      } catch (error) {
        expect(error).toBeInstanceOf(AssertionError);
        return [label, (error as Error).message.replace(`dma_buf_export ${label}: `, "")];
      }
    });
    expect(outcome).toEqual([
      ["map, unmap, release", "static"],
      ["+ attach, detach", "static"],
      ["+ pin, unpin", "dynamic"],
      ["- map", "op map is mandatory"],
      ["- unmap", "op unmap is mandatory"],
      ["- release", "op release is mandatory"],
      ["pin without unpin", "pin and unpin come together"],
      ["unpin without pin", "pin and unpin come together"],
      ["map not a function", "op map is not a function"],
      ["unknown op map_dma_buf", "unknown op map_dma_buf"],
    ]);
  });

  it("requires a priv, a name and a positive size", () => {
    const { engine } = recordedEngine();
    expect(() => exportDmaBuf(engine, { name: "b", size: 4096, ops: base, priv: undefined })).toThrow("priv is mandatory");
    expect(() => exportDmaBuf(engine, { name: "", size: 4096, ops: base, priv: 1 })).toThrow("a name is required");
    expect(() => exportDmaBuf(engine, { name: "b", size: 0, ops: base, priv: 1 })).toThrow("positive safe integer");
  });
});

describe("references", () => {
  it("the last put releases once; a double put and a release with attachments left throw", () => {
    const { engine, trace } = recordedEngine();
    const nic = fn(machine(oneSwitch()), "nic0");
    const released: string[] = [];
    const buf = exportDmaBuf(engine, { name: "b", size: 4096, ops: { ...base, release: (b) => void released.push(b.name) }, priv: 1 });
    dmaBufGet(buf);
    const attached = dmaBufAttach(buf, nic);
    if (!attached.ok) throw new Error("attach refused");
    dmaBufPut(buf);
    expect(() => dmaBufPut(buf)).toThrow("release of dma-buf b with 1 attachment(s) left");
    dmaBufDetach(attached.value);
    dmaBufPut(buf);
    expect(released).toEqual(["b"]);
    expect(() => dmaBufPut(buf)).toThrow("double put of dma-buf b");
    expect(() => dmaBufGet(buf)).toThrow("get of released dma-buf b");
    expect(trace.tuples()).toEqual([
      [0, "dmabuf/export", { buf: "b", size: 4096, dynamic: false }],
      [0, "dmabuf/attach", { buf: "b", attach: 0, importer: "nic0", dynamic: false, peer2peer: false, revocable: false, importerId: "0000:05:00.0" }],
      [0, "dmabuf/detach", { buf: "b", attach: 0, importer: "nic0", importerId: "0000:05:00.0" }],
      [0, "dmabuf/release", { buf: "b" }],
    ]);
  });

  it("put with the resv held throws", () => {
    const { engine } = recordedEngine();
    const buf = exportDmaBuf(engine, { name: "b", size: 4096, ops: base, priv: 1 });
    buf.resv.lock("nic0");
    expect(() => dmaBufPut(buf)).toThrow("must not be held");
  });
});
