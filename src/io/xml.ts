/**
 * What the XML topology importers (hwloc, NCCL) share.
 *
 * 1. A located XML tree: fast-xml-parser checks well-formedness (with a line number when it is
 *    not) and parses; every element here knows its 1-based line and an XPath-like location
 *    (`/system/cpu[2]/pci[1]`) so that an importer's complaint points at the element.
 * 2. Small readers (children, integer attributes, located issues, `ImportFailure`) and
 *    `definedOnly`. The repair of the PCI trees these formats prune is in `pci-tree-repair.ts`.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { ImportIssue } from "./import-types.js";

/** One XML element with where it was found. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** The element's own text, trimmed (hwloc keeps NUMA distances there). */
  readonly text: string;
  /** 1-based line of the start tag. */
  readonly line: number;
  /** XPath-like location: the root is `/system`, then `name[k]` with k counting same-named siblings from 1. */
  readonly xmlPath: string;
}

/** The outcome of {@link parseXml}. */
export type XmlParse = { readonly ok: true; readonly root: XmlElement } | { readonly ok: false; readonly line: number; readonly message: string };

const PARSER = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  captureMetaData: true,
  parseAttributeValue: false,
  parseTagValue: false,
});
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

/**
 * Parses an XML document into located elements.
 * @returns the root element, or the line and reason of the first well-formedness error. Never throws.
 */
export function parseXml(text: string): XmlParse {
  let nodes: unknown;
  try {
    const valid = XMLValidator.validate(text);
    if (valid !== true) return { ok: false, line: Math.max(1, valid.err.line), message: valid.err.msg };
    nodes = PARSER.parse(text);
  } catch (error) {
    return { ok: false, line: 1, message: error instanceof Error ? error.message : String(error) };
  }
  const root = Array.isArray(nodes) ? toElements(nodes, "", 1, lineIndex(text))[0] : undefined;
  return root === undefined ? { ok: false, line: 1, message: "expected an XML document with a root element" } : { ok: true, root };
}

/** A function from a character index to its 1-based line. */
function lineIndex(text: string): (index: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (index) => {
    let [low, high] = [0, starts.length - 1];
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((starts[mid] as number) <= index) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
}

function toElements(nodes: readonly unknown[], parentPath: string, parentLine: number, lineOf: (index: number) => number): XmlElement[] {
  const counts = new Map<string, number>();
  const elements: XmlElement[] = [];
  for (const node of nodes) {
    if (typeof node !== "object" || node === null) continue;
    const record = node as Record<string | symbol, unknown>;
    const name = Object.keys(record).find((key) => key !== ":@" && !/^[#?!]/.test(key));
    if (name === undefined) continue;
    const k = (counts.get(name) ?? 0) + 1;
    counts.set(name, k);
    const xmlPath = parentPath === "" ? `/${name}` : `${parentPath}/${name}[${k}]`;
    const start = (record[META] as { startIndex?: number } | undefined)?.startIndex;
    const line = start === undefined ? parentLine : lineOf(start);
    const attributes = new Map<string, string>();
    const rawAttributes = record[":@"];
    if (typeof rawAttributes === "object" && rawAttributes !== null) {
      for (const [key, value] of Object.entries(rawAttributes)) attributes.set(key, String(value));
    }
    const inner = Array.isArray(record[name]) ? (record[name] as unknown[]) : [];
    const text = inner
      .map((child) => (typeof child === "object" && child !== null ? String((child as Record<string, unknown>)["#text"] ?? "") : ""))
      .join(" ")
      .trim();
    elements.push({ name, attributes, children: toElements(inner, xmlPath, line, lineOf), text, line, xmlPath });
  }
  return elements;
}

/** The child elements named `name`, in document order. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

/** An issue located at `element` (or at the top of the file when there is none). */
export function issueAt(file: string, element: XmlElement | undefined, message: string): ImportIssue {
  return element === undefined ? { file, line: 1, message } : { file, line: element.line, xmlPath: element.xmlPath, message };
}

/** Parses a non-negative decimal integer attribute; undefined when absent or malformed. */
export function intAttribute(element: XmlElement, name: string): number | undefined {
  const value = element.attributes.get(name)?.trim();
  return value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

/** A located error on its way out of a recursive reader; the importer's boundary turns it into `{ ok: false }`. */
export class ImportFailure extends Error {
  constructor(readonly issue: ImportIssue) {
    super(issue.message);
  }
}

/** The properties of `value` whose value is defined, typed so that `exactOptionalPropertyTypes` accepts the result where those keys are optional. */
export function definedOnly<T extends object>(value: T): DefinedOnly<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as DefinedOnly<T>;
}

/** `T` with every key whose type admits undefined made optional and stripped of undefined. */
export type DefinedOnly<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};
