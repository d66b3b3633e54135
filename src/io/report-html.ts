/**
 * The HTML report's page: one self-contained file with its styles inline and its figures as
 * inline SVG, so it opens from disk with no network and no script. The run, explore and perf
 * reports fill it with sections; this module holds the shell, the verdict banner and the small
 * HTML helpers they share.
 */
import { escapeXml } from "./svg-plot.js";

/** The banner at the top. */
export interface Verdict {
  readonly ok: boolean;
  /** `PASS`, `VIOLATION`, `FAIL`, or a plain word for a perf report. */
  readonly word: string;
  readonly detail: string;
  /** A neutral banner (a perf report has no verdict). */
  readonly neutral?: boolean;
}

/** One page. */
export interface Page {
  readonly title: string;
  /** Facts under the title: scenario, seed, profile, version … */
  readonly facts: ReadonlyArray<readonly [string, string]>;
  readonly verdict: Verdict;
  /** HTML sections, each already a `<section>`. */
  readonly sections: readonly string[];
}

/** Escapes text for HTML. */
export const html = escapeXml;

const STYLE = `
:root{color-scheme:light;--fg:#0f172a;--muted:#475569;--line:#e2e8f0;--ok:#15803d;--bad:#b91c1c;--accent:#4f46e5}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f1f5f9}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 6px}
h2{font-size:18px;margin:0 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.facts{display:flex;flex-wrap:wrap;gap:6px 18px;color:var(--muted);font-size:13px;margin:0 0 18px;padding:0}
.facts li{list-style:none}.facts b{color:var(--fg);font-weight:600}
.banner{border-radius:10px;padding:14px 18px;margin:0 0 22px;color:#fff;display:flex;gap:14px;align-items:baseline}
.banner .word{font-size:22px;font-weight:800;letter-spacing:.04em}
.banner.pass{background:var(--ok)}.banner.violation{background:var(--bad)}.banner.neutral{background:#334155}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f8fafc;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#0f172a;color:#e2e8f0;padding:14px;border-radius:8px;overflow:auto;line-height:1.45;white-space:pre-wrap;word-break:break-word}
.muted{color:var(--muted)}.bad{color:var(--bad);font-weight:600}.ok{color:var(--ok);font-weight:600}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;margin:2px 4px 2px 0;font-size:12.5px;background:#eef2ff;color:#3730a3}
.pill.never{background:#fef2f2;color:#991b1b}
tr.key td{background:#fff7ed}
svg{max-width:100%;height:auto;display:block}
.legend-note{font-size:12.5px;color:var(--muted);margin:8px 0 0}
footer{color:var(--muted);font-size:12px;text-align:center}
`;

/** Renders the page: a complete HTML document with no external reference. */
export function renderPage(page: Page): string {
  const cls = page.verdict.neutral ? "neutral" : page.verdict.ok ? "pass" : "violation";
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${html(page.title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<h1>${html(page.title)}</h1>`,
    `<ul class="facts">${page.facts.map(([k, v]) => `<li>${html(k)} <b>${html(v)}</b></li>`).join("")}</ul>`,
    `<div class="banner ${cls}" id="verdict" data-verdict="${html(page.verdict.word.toLowerCase())}"><span class="word">${html(page.verdict.word)}</span><span>${html(page.verdict.detail)}</span></div>`,
    ...page.sections,
    "<footer>Written by p2psim, a deterministic simulator of PCI Express peer-to-peer DMA on Linux. Self-contained: no network access is needed to view it.</footer>",
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** A `<section>` with a heading and an id. */
export function section(id: string, heading: string, body: string): string {
  return `<section id="${html(id)}"><h2>${html(heading)}</h2>\n${body}\n</section>`;
}

/** A table; cells are HTML (escape text before). Columns whose header ends with `#` are right-aligned numbers (the `#` is dropped). */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, rowClass?: (row: number) => string | undefined): string {
  const num = headers.map((h) => h.endsWith("#"));
  const head = headers.map((h, i) => `<th${num[i] ? ' class="num"' : ""}>${html(num[i] ? h.slice(0, -1) : h)}</th>`).join("");
  const body = rows
    .map((r, i) => {
      const cls = rowClass?.(i);
      return `<tr${cls ? ` class="${cls}"` : ""}>${r.map((c, j) => `<td${num[j] ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`;
    })
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** `6.519 µs`, `250 ms`: a picosecond time in the unit that reads best. */
export function formatPs(ps: number): string {
  if (ps === 0) return "0 ps";
  if (ps < 1e6) return `${(ps / 1e3).toFixed(3)} ns`;
  if (ps < 1e9) return `${(ps / 1e6).toFixed(3)} µs`;
  if (ps < 1e12) return `${(ps / 1e9).toFixed(3)} ms`;
  return `${(ps / 1e12).toFixed(3)} s`;
}
