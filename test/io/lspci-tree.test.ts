import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type LspciTreeBus, type LspciTreeFunction, looksLikeLspciTree, parseLspciTree } from "../../src/io/lspci-tree.js";
import { SERVER_TREE } from "../support/lspci-samples.js";

// Real pciutils 3.9 output: `lspci -F dump -tvnn` (and variants) over configuration headers
// written for the purpose (vendor, device, class, header type, bus numbers).
// Real pciutils 3.9 output over configuration headers written for the purpose.
const MULTI_DOMAIN_TVNN = SERVER_TREE;

const MULTI_DOMAIN_T = String.raw`-+-[0000:00]-+-00.0
 |           +-01.0-[01-04]----00.0-[02-04]--+-08.0-[03]--+-00.0
 |           |                               |            \-00.1
 |           |                               \-10.0-[04]--
 |           +-02.0-[05]--+-00.0
 |           |            \-00.1
 |           \-03.0-[06]--
 +-[0000:80]-+-00.0
 |           \-01.0-[81]----00.0
 \-[0001:00]-+-00.0
             \-02.0-[01]----00.0
`;

const NESTED_SWITCHES_TVNN = String.raw`-[0000:00]-+-00.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]
           +-01.1-[01-06]----00.0-[02-06]----00.0-[03-06]----00.0-[04-06]--+-00.0-[05]----00.0  NVIDIA Corporation GA100 [A100 SXM4 40GB] [10de:20b0]
           |                                                               \-01.0-[06]--+-00.0  Mellanox Technologies MT28908 Family [ConnectX-6] [15b3:101b]
           |                                                                            \-00.1  Mellanox Technologies MT28908 Family [ConnectX-6] [15b3:101b]
           \-07.1-[07]----00.0-[08]----00.0  ASPEED Technology, Inc. ASPEED Graphics Family [1a03:2000]
`;

/** Devices on two buses of one bridge's range, none behind a bridge: lspci labels each bus. */
const LABELLED_BUSES_TVN = String.raw`-[0000:00]---01.0-[01-04]--+-[0000:01]---00.0  10de:1db4
                           \-[0000:03]---00.0  10de:1db4
`;

/** `lspci -tvn -s 02:10.0`: the filter hides the ends of the lists. */
const FILTERED_TVN = String.raw`-+-[0000:00]-+-01.0-[01-04]----00.0-[02-04]--\-10.0-[04]--
`;

/** One line per function: indentation by depth, address, bus range, ids, name. */
function outline(roots: readonly LspciTreeBus[]): string[] {
  const rows: string[] = [];
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const bus = (b: LspciTreeBus, depth: number) => {
    if (b.labelled) rows.push(`${"  ".repeat(depth)}[${hex(b.domain, 4)}:${hex(b.bus, 2)}]`);
    for (const fn of b.functions) {
      const range = fn.busRange ? ` -[${hex(fn.busRange[0], 2)}-${hex(fn.busRange[1], 2)}]` : "";
      const ids = fn.vendor === undefined ? "" : ` ${hex(fn.vendor, 4)}:${hex(fn.deviceId ?? 0, 4)}`;
      rows.push(`${"  ".repeat(depth + 1)}${hex(b.bus, 2)}:${hex(fn.device, 2)}.${fn.fn}${range}${ids}${fn.description ? ` ${fn.description}` : ""}`);
      for (const below of fn.buses) bus(below, depth + 2);
    }
  };
  for (const root of roots) bus(root, 0);
  return rows;
}

function parsed(text: string) {
  const result = parseLspciTree(text, "tree.txt");
  if (!result.ok) throw new Error(`${result.error.line}: ${result.error.message}`);
  return result;
}

/**
 * pciutils' `ls-tree.c` drawing, ported line by line: `print_it` prints the line and turns it into
 * the prefix of the next one ('+' and '|' become '|', everything else a space).
 */
function drawTree(roots: readonly LspciTreeBus[]): string {
  let buffer: string[] = [];
  const out: string[] = [];
  const put = (p: number, text: string) => {
    for (let i = 0; i < text.length; i++) buffer[p + i] = text[i] as string;
    return p + text.length;
  };
  const printIt = (p: number) => {
    buffer = buffer.slice(0, p);
    out.push(buffer.join(""));
    buffer = buffer.map((c) => (c === "+" || c === "|" ? "|" : " "));
  };
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const label = (b: LspciTreeBus) => `[${hex(b.domain, 4)}:${hex(b.bus, 2)}]-`;
  const dev = (fn: LspciTreeFunction, p0: number) => {
    let p = put(p0, `${hex(fn.device, 2)}.${fn.fn}`);
    if (fn.busRange) {
      const [s, e] = fn.busRange;
      p = put(p, s === e ? `-[${hex(s, 2)}]-` : `-[${hex(s, 2)}-${hex(e, 2)}]-`);
      bridge(fn.buses, p, false);
      return;
    }
    const name =
      fn.vendor === undefined
        ? fn.description
        : `${fn.description === undefined ? "" : `${fn.description} [`}${hex(fn.vendor, 4)}:${hex(fn.deviceId ?? 0, 4)}${fn.description === undefined ? "" : "]"}`;
    if (name !== undefined) p = put(p, `  ${name}`);
    printIt(p);
  };
  const bus = (b: LspciTreeBus, p: number) => {
    const fns = b.functions;
    if (fns.length === 0) printIt(p);
    else if (fns.length === 1) dev(fns[0] as LspciTreeFunction, put(p, "--"));
    else
      fns.forEach((fn, i) => {
        dev(fn, put(p, i < fns.length - 1 ? "+-" : "\\-"));
      });
  };
  const bridge = (buses: readonly LspciTreeBus[], p0: number, host: boolean) => {
    const p = put(p0, "-");
    if (buses.length === 1 && (host || !(buses[0] as LspciTreeBus).labelled)) {
      bus(buses[0] as LspciTreeBus, host ? put(p, label(buses[0] as LspciTreeBus)) : p);
      return;
    }
    buses.forEach((b, i) => {
      bus(b, put(p, `${i < buses.length - 1 ? "+-" : "\\-"}${label(b)}`));
    });
  };
  bridge(roots, 0, true);
  return `${out.join("\n")}\n`;
}

/** Drops line numbers so that a drawn and re-parsed tree compares with the tree drawn. */
function withoutLines(buses: readonly LspciTreeBus[]): unknown {
  return buses.map((b) => ({ ...b, line: 0, functions: b.functions.map((fn) => ({ ...fn, line: 0, buses: withoutLines(fn.buses) })) }));
}

describe("parseLspciTree on real lspci output", () => {
  it("reads several domains and root buses, a switch below a root port, and multi-function devices (-tvnn)", () => {
    const { roots, warnings } = parsed(MULTI_DOMAIN_TVNN);
    expect(warnings).toEqual([]);
    expect(outline(roots)).toEqual([
      "[0000:00]",
      "  00:00.0 8086:2020 Intel Corporation Sky Lake-E DMI3 Registers",
      "  00:01.0 -[01-04]",
      "      01:00.0 -[02-04]",
      "          02:08.0 -[03-03]",
      "              03:00.0 10de:1db4 NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB]",
      "              03:00.1 10de:10f0 NVIDIA Corporation GP104 High Definition Audio Controller",
      "          02:10.0 -[04-04]",
      "  00:02.0 -[05-05]",
      "      05:00.0 15b3:1017 Mellanox Technologies MT27800 Family [ConnectX-5]",
      "      05:00.1 15b3:1017 Mellanox Technologies MT27800 Family [ConnectX-5]",
      "  00:03.0 -[06-06]",
      "[0000:80]",
      "  80:00.0 8086:2020 Intel Corporation Sky Lake-E DMI3 Registers",
      "  80:01.0 -[81-81]",
      "      81:00.0 144d:a808 Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983",
      "[0001:00]",
      "  00:00.0 8086:09a2 Intel Corporation Ice Lake Memory Map/VT-d",
      "  00:02.0 -[01-01]",
      "      01:00.0 1af4:1041 Red Hat, Inc. Virtio 1.0 network device",
    ]);
    expect(roots.map((r) => [r.domain, r.bus, r.line])).toEqual([
      [0, 0x00, 1],
      [0, 0x80, 8],
      [1, 0x00, 10],
    ]);
  });

  it("reads the same machine drawn by plain -t (no names), with the same shape", () => {
    const plain = outline(parsed(MULTI_DOMAIN_T).roots);
    const named = outline(parsed(MULTI_DOMAIN_TVNN).roots).map((row) => row.replace(/ [0-9a-f]{4}:[0-9a-f]{4}.*$/, ""));
    expect(plain).toEqual(named);
  });

  it("reads a chain of nested switches and a PCIe-to-PCI bridge", () => {
    expect(outline(parsed(NESTED_SWITCHES_TVNN).roots)).toEqual([
      "[0000:00]",
      "  00:00.0 1022:1480 Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex",
      "  00:01.1 -[01-06]",
      "      01:00.0 -[02-06]",
      "          02:00.0 -[03-06]",
      "              03:00.0 -[04-06]",
      "                  04:00.0 -[05-05]",
      "                      05:00.0 10de:20b0 NVIDIA Corporation GA100 [A100 SXM4 40GB]",
      "                  04:01.0 -[06-06]",
      "                      06:00.0 15b3:101b Mellanox Technologies MT28908 Family [ConnectX-6]",
      "                      06:00.1 15b3:101b Mellanox Technologies MT28908 Family [ConnectX-6]",
      "  00:07.1 -[07-07]",
      "      07:00.0 -[08-08]",
      "          08:00.0 1a03:2000 ASPEED Technology, Inc. ASPEED Graphics Family",
    ]);
  });

  it("reads -tvn ids and the labelled buses of a bridge range that no bridge leads to", () => {
    expect(outline(parsed(LABELLED_BUSES_TVN).roots)).toEqual([
      "[0000:00]",
      "  00:01.0 -[01-04]",
      "    [0000:01]",
      "      01:00.0 10de:1db4",
      "    [0000:03]",
      "      03:00.0 10de:1db4",
    ]);
  });

  it("accepts lists cut short by lspci -s, with a warning for each", () => {
    const { roots, warnings } = parsed(FILTERED_TVN);
    expect(outline(roots)).toEqual(["[0000:00]", "  00:01.0 -[01-04]", "      01:00.0 -[02-04]", "          02:10.0 -[04-04]"]);
    expect(warnings.map((w) => [w.line, w.message])).toEqual([
      [1, "column 2: the list of root buses opened here ends without a '\\-' entry (output filtered with lspci -s?)"],
      [1, "column 14: the list of devices opened here ends without a '\\-' entry (output filtered with lspci -s?)"],
    ]);
  });

  it("skips other tools' messages and CRLF line ends, and reads old pciutils' [BB] root labels", () => {
    const text = `lspci: Unable to load libkmod resources: error -2\r\n\r\n-[00]-+-00.0\r\n      \\-1c.0-[01]----00.0  Intel Corporation I210 [8086:1533]\r\n`;
    const { roots, warnings } = parsed(text);
    expect(outline(roots)).toEqual(["[0000:00]", "  00:00.0", "  00:1c.0 -[01-01]", "      01:00.0 8086:1533 Intel Corporation I210"]);
    expect(warnings).toEqual([
      { file: "tree.txt", line: 1, message: 'skipped a message from another tool: "lspci: Unable to load libkmod resources: error -2"' },
    ]);
  });

  it("draws every real sample back exactly with the port of ls-tree.c the round-trip property uses", () => {
    for (const text of [MULTI_DOMAIN_TVNN, MULTI_DOMAIN_T, NESTED_SWITCHES_TVNN, LABELLED_BUSES_TVN]) expect(drawTree(parsed(text).roots)).toBe(text);
  });
});

describe("parseLspciTree: drawings that cannot be lspci -t output fail on their line", () => {
  const cases: Array<[string, string, number, string]> = [
    ["empty input", "\n\n", 1, "expected the output of lspci -t, found no tree"],
    ["not a tree", "00:00.0 Host bridge: Intel\n", 1, "column 1: expected a tree starting with '-[' (one root bus) or '-+-[' (several)"],
    ["bad root label", "-[zz:00]-+-00.0\n", 1, "column 2: expected a root bus label such as '[0000:00]'"],
    ["bad device", "-[0000:00]-+-0x.0\n           \\-01.0\n", 1, "column 14: expected a device and function such as '00.0'"],
    ["device above 1f", "-[0000:00]---20.0\n", 1, "column 14: device 20 is above 1f, the highest device number"],
    ["bad bridge range", "-[0000:00]---01.0-[1]--\n", 1, "column 18: expected a bridge's bus range such as '-[01]-' or '-[01-04]-'"],
    [
      "name without two spaces",
      "-[0000:00]---00.0 Intel\n",
      1,
      "column 18: expected two spaces and the device's name, a bridge's '-[', or the end of the line",
    ],
    ["bad bus start", "-[0000:00]-x\n", 1, "column 12: expected '--' (one device), '+-' or '\\-' (a list of devices), or the end of the line (an empty bus)"],
    [
      "a list entry without '|' below it",
      `-[0000:00]-+-01.0-[01]--+-00.0\n${" ".repeat(24)}\\-00.1\n${" ".repeat(11)}\\-02.0\n`,
      2,
      "column 12: expected '|' continuing the list of devices opened on line 1",
    ],
    ["text after the tree", "-[0000:00]---00.0\nmore\n", 2, "expected the end of the tree (it ended on line 1), found more text"],
    [
      "a dropped line leaves an entry in the wrong column",
      "-[0000:00]-+-00.0\n             \\-01.0\n",
      2,
      "expected the end of the tree (it ended on line 1), found more text",
    ],
  ];
  it.each(cases)("%s", (_, text, line, message) => {
    expect(parseLspciTree(text, "t.txt")).toEqual({ ok: false, error: { file: "t.txt", line, message } });
  });
});

describe("parseLspciTree properties", () => {
  const id = fc.integer({ min: 0, max: 0xffff });
  const description = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 .,/-]{0,30}[A-Za-z0-9]$/);
  const endpoint = fc
    .record({
      device: fc.integer({ min: 0, max: 31 }),
      fn: fc.integer({ min: 0, max: 7 }),
      description: fc.option(description, { nil: undefined }),
      ids: fc.option(fc.tuple(id, id), { nil: undefined }),
    })
    .map(({ device, fn, description: d, ids }) => ({
      device,
      fn,
      line: 0,
      description: d,
      vendor: ids?.[0],
      deviceId: ids?.[1],
      busRange: undefined,
      buses: [] as LspciTreeBus[],
    }));
  const busNumber = fc.integer({ min: 0, max: 255 });
  const tree = fc.letrec<{ fn: LspciTreeFunction; bus: LspciTreeBus; buses: LspciTreeBus[] }>((tie) => ({
    fn: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      endpoint,
      fc
        .record({ device: fc.integer({ min: 0, max: 31 }), fn: fc.integer({ min: 0, max: 7 }), range: fc.tuple(busNumber, busNumber), buses: tie("buses") })
        .map(({ device, fn, range, buses }) => ({
          device,
          fn,
          line: 0,
          description: undefined,
          vendor: undefined,
          deviceId: undefined,
          busRange: range as readonly [number, number],
          // One unlabelled bus is the secondary; several are labelled.
          buses: buses.length === 1 ? [{ ...(buses[0] as LspciTreeBus), bus: range[0], labelled: false, domain: 0 }] : buses,
        })),
    ),
    bus: fc.record({
      domain: fc.constant(0),
      bus: busNumber,
      line: fc.constant(0),
      labelled: fc.constant(true),
      functions: fc.array(tie("fn"), { maxLength: 3 }),
    }),
    buses: fc.array(tie("bus") as fc.Arbitrary<LspciTreeBus>, { minLength: 1, maxLength: 3 }),
  }));
  const roots = fc
    .array(
      fc
        .record({ domain: fc.integer({ min: 0, max: 0xffff }), bus: busNumber, functions: fc.array(tree.fn, { maxLength: 4 }) })
        .map((r) => ({ ...r, line: 0, labelled: true })),
      { minLength: 1, maxLength: 3 },
    )
    .map((rs) => rs as LspciTreeBus[]);

  /** An unlabelled bus is drawn without a domain: it is its bridge's. */
  const inheritDomains = (buses: readonly LspciTreeBus[], parentDomain: number): LspciTreeBus[] =>
    buses.map((b) => {
      const domain = b.labelled ? b.domain : parentDomain;
      return { ...b, domain, functions: b.functions.map((fn) => ({ ...fn, buses: inheritDomains(fn.buses, domain) })) };
    });

  it("reads back exactly what ls-tree.c draws, for any tree", () => {
    fc.assert(
      fc.property(
        roots.map((rs) => inheritDomains(rs, 0)),
        (drawn) => {
          const text = drawTree(drawn);
          const back = parseLspciTree(text, "t");
          expect(back.ok ? withoutLines(back.roots) : back.error).toEqual(withoutLines(drawn));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws: any text gives a tree or an error on a line of the text", () => {
    const noisy = fc.oneof(
      fc.string({ unit: fc.constantFrom("-", "+", "\\", "|", " ", "[", "]", ":", ".", "0", "1", "f", "\n", "a") }),
      fc.string(),
      fc.constantFrom(MULTI_DOMAIN_TVNN, NESTED_SWITCHES_TVNN).chain((text) => fc.nat(text.length).map((cut) => text.slice(0, cut))),
    );
    fc.assert(
      fc.property(noisy, (text) => {
        const result = parseLspciTree(text, "t");
        if (!result.ok) {
          expect(result.error.line).toBeGreaterThanOrEqual(1);
          expect(result.error.line).toBeLessThanOrEqual(Math.max(1, text.split("\n").length));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("looksLikeLspciTree", () => {
  it.each([
    [MULTI_DOMAIN_TVNN, true],
    [NESTED_SWITCHES_TVNN, true],
    ["\n-[00]-+-00.0\n", true],
    ["lspci: warning\n-[0000:00]---00.0\n", true],
    ["00:00.0 Host bridge [0600]: Intel Corporation Device [8086:0d57]\n\tControl: I/O-\n", false],
    ["<topology/>", false],
    ["", false],
  ])("%#: %j", (text, expected) => {
    expect(looksLikeLspciTree(text)).toBe(expected);
  });
});
