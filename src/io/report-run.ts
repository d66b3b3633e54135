/**
 * The HTML report of one run: the verdict, each violation's causal chain as a table (the revoke
 * and the late write picked out), a timeline of the run's key events in which the writes in
 * flight across the revoke stand out, the machine with its map types, the faults, probes and
 * measurements — enough to see what happened without reading code.
 */
import { faultEffects } from "./fault-effects.js";
import { formatPs, html, renderPage, section, table } from "./report-html.js";
import type { ChainEvent, RunReportInput } from "./report-input.js";
import { probePills, topologySection } from "./report-sections.js";
import { inFlightAcross, landedAfter, renderTimelineSvg, revokeReturnedPs, timelineWindowPs } from "./svg-timeline.js";

/** The fields of a chain event after time, layer and kind, as `key=value` text. */
export function chainDetail(event: ChainEvent): string {
  const { t: _t, seq: _seq, layer: _layer, kind: _kind, ...fields } = event;
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
}

/** Whether a chain row is one the reader should see first: a revoke step, or the breaking event (the last). */
function keyRow(event: ChainEvent, index: number, length: number): boolean {
  return index === length - 1 || /revoke|reset/.test(event.kind);
}

function violationsSection(run: RunReportInput): string {
  if (run.violations.length === 0) return section("violations", "Invariants", '<p class="ok">No invariant was broken.</p>');
  const blocks = run.violations.map((v) => {
    const rows = v.chain.map((e) => [formatPs(e.t), `<code>${html(`${e.layer}/${e.kind}`)}</code>`, `<span class="mono">${html(chainDetail(e))}</span>`]);
    return [
      `<h3 class="violation" data-invariant="${html(v.invariant)}"><span class="bad">${html(v.invariant)}</span> at ${html(formatPs(v.timePs))}</h3>`,
      `<p>${html(v.message)}</p>`,
      `<p class="muted">Causal chain, oldest first; the revoke steps and the breaking event are highlighted.</p>`,
      `<div class="chain" data-invariant="${html(v.invariant)}">${table(["time", "event", "details"], rows, (i) => (keyRow(v.chain[i] as ChainEvent, i, v.chain.length) ? "key" : undefined))}</div>`,
    ].join("\n");
  });
  return section("violations", "Violations and their causal chains", blocks.join("\n"));
}

function timelineSection(run: RunReportInput): string {
  const timeline = run.timeline;
  if (timeline === undefined) return section("timeline", "Timeline", '<p class="muted">This result carries no timeline (written by an older p2psim).</p>');
  const marks = run.violations.map((v) => ({ invariant: v.invariant, timePs: v.timePs }));
  const endPs = timelineWindowPs(timeline, marks);
  const revokePs = revokeReturnedPs(timeline.events);
  const late = timeline.events.filter((e) => landedAfter(e, revokePs));
  const across = late.filter((e) => inFlightAcross(e, revokePs));
  const later = timeline.events.filter((e) => e.t > endPs);
  const count = (list: typeof late, lane: string) => list.filter((e) => e.lane === lane).length;
  const notes = [
    revokePs === undefined ? "No revoke happened in this run." : `The revoke returned at ${formatPs(revokePs)}.`,
    revokePs === undefined
      ? ""
      : late.length === 0
        ? "No DMA write landed after it."
        : `${count(late, "CQE writes")} CQE writes and ${count(late, "data writes")} data writes landed after it (red); ${across.length} of them were issued before it, in flight across the revoke.`,
    later.length === 0 ? "" : `${later.length} later key events (e.g. ${later[0]?.kind ?? ""} at ${formatPs(later[0]?.t ?? 0)}) are past the window drawn.`,
    timeline.dropped === 0 ? "" : `${timeline.dropped} key events past the first ${timeline.events.length} were not recorded.`,
  ].filter((n) => n !== "");
  const lateTable =
    late.length === 0
      ? ""
      : `<h3>DMA writes that landed after the revoke returned</h3>\n${table(
          ["issued", "landed", "event", "in flight across", "outcome", "details"],
          late.map((e) => [
            formatPs(e.issuedPs ?? e.t),
            formatPs(e.t),
            `<code>${html(e.kind)}</code>`,
            inFlightAcross(e, revokePs) ? '<span class="bad">yes</span>' : "no",
            html(e.outcome ?? ""),
            `<span class="mono">${html(e.what)}</span>`,
          ]),
        )}`;
  return section(
    "timeline",
    "Timeline of key events",
    [renderTimelineSvg(timeline, marks), `<p class="legend-note">${notes.map(html).join(" ")}</p>`, lateTable].join("\n"),
  );
}

function faultsSection(run: RunReportInput): string {
  if (run.faults.length === 0)
    return section(
      "faults",
      "Programs and faults",
      `<ul>${run.workloads.map((w) => `<li><code>${html(w)}</code></li>`).join("")}</ul><p class="muted">No fault struck.</p>`,
    );
  const faults = run.faults as ReadonlyArray<Readonly<Record<string, unknown>>>;
  const rows = faults.map((f) =>
    [
      String(f.fault ?? ""),
      String(f.target ?? ""),
      typeof f.atPs === "number" ? formatPs(f.atPs) : "",
      String(f.result ?? ""),
      faultEffects(f),
      f.affected ? "yes" : "no",
    ].map(html),
  );
  return section(
    "faults",
    "Programs and faults",
    `<ul>${run.workloads.map((w) => `<li><code>${html(w)}</code></li>`).join("")}</ul>\n${table(["fault", "target", "at", "result", "effects from then on", "affected"], rows)}`,
  );
}

function probesSection(run: RunReportInput): string {
  const entries = Object.entries(run.probes);
  const measurements = table(
    ["measurement", "value#"],
    Object.entries(run.measurements).map(([k, v]) => [html(k), html(String(v))]),
  );
  return section(
    "probes",
    "Probes and measurements",
    `${probePills(
      entries.filter(([, n]) => n > 0),
      entries.filter(([, n]) => n === 0).map(([p]) => p),
      "",
    )}\n${measurements}`,
  );
}

/** Renders the report of one run. */
export function renderRunReport(run: RunReportInput): string {
  const broken = run.violations.map((v) => v.invariant);
  return renderPage({
    title: `p2psim run · ${run.scenario}`,
    facts: [
      ["seed", String(run.seed)],
      ["profile", run.profile],
      ["mutants", run.mutants.length === 0 ? "none" : run.mutants.join(", ")],
      ["events", run.events.toLocaleString("en")],
      ["simulated", formatPs(run.endPs)],
      ["fingerprint", run.fingerprint],
      ...(run.p2psim === undefined ? [] : [["p2psim", run.p2psim] as const]),
    ],
    verdict:
      run.verdict === "pass"
        ? { ok: true, word: "PASS", detail: "no invariant was broken." }
        : { ok: false, word: "VIOLATION", detail: `of ${broken.join(", ")} — first at ${formatPs(Math.min(...run.violations.map((v) => v.timePs)))}.` },
    sections: [violationsSection(run), timelineSection(run), topologySection(run.topology), faultsSection(run), probesSection(run)],
  });
}
