/**
 * The run's key events as an SVG timeline: one lane per kind of event, time in microseconds
 * across. DMA writes are drawn from the time the device issued them to the time they landed, so
 * a write in flight across the revoke — issued before the revoke returned, landing after — shows
 * as a red bar crossing the "revoke returned" line, and any write landing after it is red; each violation is a red vertical line with
 * its invariant's id.
 */
import { type ReportTimeline, TIMELINE_LANES, type TimelineEvent } from "./report-timeline.js";
import { escapeXml, niceStep } from "./svg-plot.js";

/** A violation to mark. */
export interface TimelineMark {
  readonly invariant: string;
  readonly timePs: number;
}

const WIDTH = 980;
const LABEL_PX = 130;
const RIGHT_PX = 24;
const TOP_PX = 34;
const LANE_PX = 34;
const AXIS_PX = 46;

const COLORS: Readonly<Record<string, string>> = {
  posts: "#475569",
  "data writes": "#2563eb",
  "CQE writes": "#7c3aed",
  revoke: "#0f766e",
  "reset / faults": "#b45309",
  errors: "#dc2626",
};

/** When the revoke returned: the first `revoke.done` (vfio's, else dma-buf's). */
export function revokeReturnedPs(events: readonly TimelineEvent[]): number | undefined {
  return (events.find((e) => e.kind === "vfio/revoke.done") ?? events.find((e) => e.kind === "dmabuf/revoke.done"))?.t;
}

/** Whether a write was issued before the revoke returned and landed after it. */
export function inFlightAcross(e: TimelineEvent, revokePs: number | undefined): boolean {
  return revokePs !== undefined && e.issuedPs !== undefined && e.issuedPs <= revokePs && e.t > revokePs;
}

/** Whether a DMA write (data or CQE) landed after the revoke returned. */
export function landedAfter(e: TimelineEvent, revokePs: number | undefined): boolean {
  return revokePs !== undefined && (e.lane === "data writes" || e.lane === "CQE writes") && e.t > revokePs;
}

/** The window drawn: from 0 to a little past the last key event or violation of the safety phase. */
export function timelineWindowPs(timeline: ReportTimeline, marks: readonly TimelineMark[]): number {
  const inSafety = [...timeline.events.map((e) => e.t), ...marks.map((m) => m.timePs)].filter((t) => t <= timeline.safetyEndPs);
  return Math.max(1000, Math.max(0, ...inSafety) * 1.06);
}

/**
 * Renders the timeline; events past the window are left out (the caller says how many).
 * Each drawn event is an element with class `tl-event` and `data-kind`.
 */
export function renderTimelineSvg(timeline: ReportTimeline, marks: readonly TimelineMark[]): string {
  const endPs = timelineWindowPs(timeline, marks);
  const plotW = WIDTH - LABEL_PX - RIGHT_PX;
  const height = TOP_PX + TIMELINE_LANES.length * LANE_PX + AXIS_PX;
  const x = (ps: number) => LABEL_PX + (Math.min(ps, endPs) / endPs) * plotW;
  const laneY = (lane: string) => TOP_PX + TIMELINE_LANES.indexOf(lane as (typeof TIMELINE_LANES)[number]) * LANE_PX + LANE_PX / 2;
  const revokePs = revokeReturnedPs(timeline.events);
  const f = (v: number) => v.toFixed(1);
  const bottom = TOP_PX + TIMELINE_LANES.length * LANE_PX;
  const stepUs = niceStep(endPs / 1e6, 8);
  const ticks: number[] = [];
  for (let us = 0; us * 1e6 <= endPs; us += stepUs) ticks.push(us);
  const parts = [
    `<svg class="timeline" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="timeline of the run's key events">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...TIMELINE_LANES.map(
      (lane, i) =>
        `<rect x="${LABEL_PX}" y="${TOP_PX + i * LANE_PX}" width="${plotW}" height="${LANE_PX}" fill="${i % 2 === 0 ? "#f8fafc" : "#fff"}"/><text class="tl-lane" x="${LABEL_PX - 10}" y="${TOP_PX + i * LANE_PX + LANE_PX / 2 + 4}" text-anchor="end" fill="#334155">${escapeXml(lane)}</text>`,
    ),
    ...ticks.map(
      (us) =>
        `<line stroke="#e2e8f0" x1="${f(x(us * 1e6))}" x2="${f(x(us * 1e6))}" y1="${TOP_PX}" y2="${bottom}"/><text class="x-tick" x="${f(x(us * 1e6))}" y="${bottom + 16}" text-anchor="middle" fill="#374151">${Number(us.toPrecision(6))}</text>`,
    ),
    `<line class="axis" stroke="#111827" x1="${LABEL_PX}" x2="${WIDTH - RIGHT_PX}" y1="${bottom}" y2="${bottom}"/>`,
    `<text class="x-label" x="${LABEL_PX + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#111827">simulated time (µs)</text>`,
  ];
  if (revokePs !== undefined && revokePs <= endPs)
    parts.push(
      `<line class="tl-revoke" stroke="#0f766e" stroke-width="1.5" stroke-dasharray="5 3" x1="${f(x(revokePs))}" x2="${f(x(revokePs))}" y1="${TOP_PX - 14}" y2="${bottom}"/><text x="${f(x(revokePs) + 4)}" y="${TOP_PX - 18}" fill="#0f766e" font-weight="600">revoke returned</text>`,
    );
  for (const e of timeline.events) {
    if (e.t > endPs) continue;
    const yy = laneY(e.lane);
    const across = inFlightAcross(e, revokePs);
    const late = landedAfter(e, revokePs);
    const color = late ? "#dc2626" : (COLORS[e.lane] ?? "#334155");
    const title = `<title>${escapeXml(`${(e.t / 1e6).toFixed(3)} µs  ${e.what}${e.issuedPs === undefined ? "" : ` (issued ${(e.issuedPs / 1e6).toFixed(3)} µs)`}${across ? " — in flight across the revoke" : late ? " — landed after the revoke returned" : ""}`)}</title>`;
    const cls = `tl-event${late ? " tl-late" : ""}${across ? " tl-in-flight" : ""}`;
    if (e.issuedPs !== undefined && e.issuedPs < e.t) {
      parts.push(
        `<g class="${cls}" data-kind="${escapeXml(e.kind)}">${title}<line x1="${f(x(e.issuedPs))}" x2="${f(x(e.t))}" y1="${yy}" y2="${yy}" stroke="${color}" stroke-width="${across ? 4 : 2.5}" stroke-opacity="0.75"/><circle cx="${f(x(e.t))}" cy="${yy}" r="3.5" fill="${color}"/></g>`,
      );
    } else {
      parts.push(
        `<g class="${cls}" data-kind="${escapeXml(e.kind)}">${title}<rect x="${f(x(e.t) - 2)}" y="${yy - 9}" width="4" height="18" rx="1" fill="${color}"/></g>`,
      );
    }
  }
  for (const m of marks) {
    if (m.timePs > endPs) continue;
    parts.push(
      `<g class="tl-violation" data-invariant="${escapeXml(m.invariant)}"><title>${escapeXml(`${m.invariant} broken at ${(m.timePs / 1e6).toFixed(3)} µs`)}</title><line stroke="#b91c1c" stroke-width="2" x1="${f(x(m.timePs))}" x2="${f(x(m.timePs))}" y1="${TOP_PX - 4}" y2="${bottom}"/><text x="${f(x(m.timePs) + 4)}" y="${bottom - 6}" fill="#b91c1c" font-weight="700">${escapeXml(m.invariant)}</text></g>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n");
}
