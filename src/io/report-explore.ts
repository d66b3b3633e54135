/**
 * The HTML report of a seed sweep: the verdict, a grid with one cell per seed (green pass, red
 * violation, amber not deterministic) that stays compact for thousands of seeds, the invariants
 * broken and how often, the probes hit and never hit across the sweep, the first failing seeds,
 * the machine, and the shrunk scenario of the first failure when `explore --report` made one.
 */
import { html, renderPage, section, table } from "./report-html.js";
import type { ExploreReportInput, SeedRow } from "./report-input.js";
import { probePills, topologySection } from "./report-sections.js";

/** Seeds drawn one cell each; past this the grid shows the first ones and says so. */
export const SEED_GRID_MAX = 20_000;

/** Cell size and cells per row: large for a short sweep, compact for thousands of seeds. */
function gridShape(count: number): { cellPx: number; columns: number } {
  return count <= 250 ? { cellPx: 18, columns: 50 } : { cellPx: 10, columns: 100 };
}

function seedColor(s: SeedRow): string {
  if (s.divergence != null) return "#d97706";
  return s.verdict === "pass" ? "#16a34a" : "#dc2626";
}

/** The per-seed grid as SVG: up to 100 cells a row, each a `<rect class="seed-cell">` with its seed and verdict. */
export function renderSeedGrid(perSeed: readonly SeedRow[]): string {
  const shown = perSeed.slice(0, SEED_GRID_MAX);
  const { cellPx, columns: maxColumns } = gridShape(shown.length);
  const columns = Math.min(maxColumns, Math.max(1, shown.length));
  const rows = Math.ceil(shown.length / columns);
  const width = columns * cellPx + 60;
  const height = Math.max(1, rows) * cellPx + 4;
  const cells = shown.map((s, i) => {
    const x = 56 + (i % columns) * cellPx;
    const y = 2 + Math.floor(i / columns) * cellPx;
    const what = s.verdict === "pass" ? "pass" : `violation of ${s.invariants.join(", ")}`;
    return `<rect class="seed-cell" data-seed="${s.seed}" data-verdict="${s.verdict}" x="${x}" y="${y}" width="${cellPx - 1.5}" height="${cellPx - 1.5}" rx="1.5" fill="${seedColor(s)}"><title>seed ${s.seed}: ${html(what)}${s.divergence != null ? " — NOT DETERMINISTIC" : ""}</title></rect>`;
  });
  const labels = Array.from({ length: rows }, (_, r) => {
    const first = shown[r * columns]?.seed;
    return `<text x="50" y="${2 + r * cellPx + cellPx * 0.75}" text-anchor="end" font-size="${cellPx > 10 ? 11 : 9}" fill="#64748b">${first ?? ""}</text>`;
  });
  return [
    `<svg class="seed-grid" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" role="img" aria-label="verdict per seed">`,
    ...labels,
    ...cells,
    "</svg>",
  ].join("\n");
}

function sweepSection(e: ExploreReportInput): string {
  const t = e.totals;
  const more = e.perSeed.length > SEED_GRID_MAX ? `<p class="muted">The first ${SEED_GRID_MAX} of ${e.perSeed.length} seeds are drawn.</p>` : "";
  return section(
    "seeds",
    "Verdict per seed",
    [
      `<p>${t.seeds} seeds run: <span class="ok">${t.pass} pass</span>, <span class="${t.violation > 0 ? "bad" : "muted"}">${t.violation} violation</span>${t.nondeterministic > 0 ? `, <span class="bad">${t.nondeterministic} not deterministic</span>` : ""} · ${t.events.toLocaleString("en")} events.${e.stoppedAt === null ? "" : ` Stopped at the first failing seed, ${e.stoppedAt}.`}</p>`,
      renderSeedGrid(e.perSeed),
      `<p class="legend-note">One cell per seed, ${gridShape(Math.min(SEED_GRID_MAX, e.perSeed.length)).columns} a row, the row's first seed on the left: <span class="ok">green</span> pass, <span class="bad">red</span> violation, <span style="color:#d97706;font-weight:600">amber</span> ran differently twice. Hover a cell for its seed.</p>`,
      more,
    ].join("\n"),
  );
}

function invariantsSection(e: ExploreReportInput): string {
  const broken = Object.entries(e.invariants);
  const failing = e.perSeed.filter((s) => s.verdict === "violation").slice(0, 25);
  const body = [
    broken.length === 0
      ? '<p class="ok">No seed broke an invariant.</p>'
      : table(
          ["invariant", "seeds#", "share#"],
          broken.map(([i, n]) => [`<span class="bad">${html(i)}</span>`, String(n), `${((100 * n) / Math.max(1, e.totals.seeds)).toFixed(1)} %`]),
        ),
    failing.length === 0
      ? ""
      : `<h3>First failing seeds</h3>\n${table(
          ["seed#", "invariants", "fingerprint", "events#"],
          failing.map((s) => [String(s.seed), html(s.invariants.join(", ")), `<code>${html(s.fingerprint)}</code>`, s.events.toLocaleString("en")]),
        )}`,
  ];
  return section("invariants", "Invariants broken", body.join("\n"));
}

function shrunkSection(e: ExploreReportInput): string {
  const s = e.shrunk;
  if (s === undefined) {
    const hint =
      e.failingSeeds.length === 0
        ? "No seed failed: there is nothing to shrink."
        : "This result carries no shrunk scenario: run explore with --report (it shrinks the first failure), or shrink a capsule with p2psim shrink.";
    return section("shrunk", "Shrunk first failure", `<p class="muted">${html(hint)}</p>`);
  }
  return section(
    "shrunk",
    `Shrunk first failure: seed ${s.seed}`,
    [
      `<p>${html(s.invariant)} is still broken after ${s.runs} shrinking runs. Steps kept:</p>`,
      s.kept.length === 0 ? '<p class="muted">none: the scenario was already minimal.</p>' : `<ul>${s.kept.map((k) => `<li>${html(k)}</li>`).join("")}</ul>`,
      `<pre class="shrunk-yaml">${html(s.yaml)}</pre>`,
    ].join("\n"),
  );
}

/** Renders the report of a sweep. */
export function renderExploreReport(e: ExploreReportInput): string {
  const t = e.totals;
  const failed = t.violation > 0 || t.nondeterministic > 0;
  const maxEvents = Math.max(0, ...e.perSeed.map((s) => s.events));
  return renderPage({
    title: `p2psim explore · ${e.scenario}`,
    facts: [
      ["seeds", `${e.seeds}${e.shard === null ? "" : ` shard ${e.shard}`}${e.swarm ? " (swarm)" : ""}`],
      ["profile", e.profile],
      ["mutants", e.mutants.length === 0 ? "none" : e.mutants.join(", ")],
      ["events per seed (max)", maxEvents.toLocaleString("en")],
      ...(e.p2psim === undefined ? [] : [["p2psim", e.p2psim] as const]),
    ],
    verdict: failed
      ? {
          ok: false,
          word: "FAIL",
          detail: `${t.violation} of ${t.seeds} seeds broke ${Object.keys(e.invariants).join(", ") || "an invariant"}${t.nondeterministic > 0 ? `; ${t.nondeterministic} ran differently twice` : ""}.`,
        }
      : { ok: true, word: "PASS", detail: `every one of ${t.seeds} seeds passed.` },
    sections: [
      sweepSection(e),
      invariantsSection(e),
      section(
        "probes",
        "Probes across the sweep",
        probePills(
          Object.entries(e.probes.hit).map(([p, n]) => [p, n] as const),
          e.probes.neverHit,
          " seeds",
        ),
      ),
      shrunkSection(e),
      topologySection(e.topology),
    ],
  });
}
