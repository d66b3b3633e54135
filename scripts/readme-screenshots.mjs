#!/usr/bin/env node
/**
 * Regenerates the README's screenshots in docs/ from the compiled CLI (run `npm run build` first),
 * with Debian's Chromium (`apt-get install chromium`, or CHROMIUM_PATH) driven by playwright-core:
 *
 * - docs/report-flagship.png: the HTML report of the flagship under the first merged VFIO exporter;
 * - docs/report-explore.png: the HTML report of a 200-seed sweep with a driver mutant;
 * - docs/trace-flagship.png: the flagship's Chrome JSON trace in Chrome DevTools' Performance panel
 *   (which Chromium serves itself on its remote-debugging port; ui.perfetto.dev reads the same file).
 *   DevTools will not zoom below about a millisecond on a 250 ms trace, so the picture is of the
 *   trace cut to its first 8 µs, where the CQE writes and the revoke are.
 *
 * Usage: node scripts/readme-screenshots.mjs
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "dist/src/cli/main.js");
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(cli)) throw new Error("build first: npm run build");
if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
const work = mkdtempSync(join(tmpdir(), "p2psim-shots-"));
const p2psim = (...args) => {
  try {
    execFileSync("node", [cli, ...args], { cwd: root, stdio: "pipe" });
  } catch (error) {
    if (error.status !== 1) throw error; // 1 is a found violation, which these pictures show
  }
};

p2psim("run", "scenarios/revoke-during-cq-writes.yaml", "--profile", "vfio-dmabuf-initial", "--report", join(work, "run.html"), "--trace", join(work, "run.json"));
p2psim("explore", "scenarios/rdma-write-during-flr.yaml", "--seeds", "1..200", "--mutant", "callback-returns-before-drain", "--report", join(work, "explore.html"));
const trace = JSON.parse(readFileSync(join(work, "run.json"), "utf8"));
const untilUs = 8;
trace.traceEvents = trace.traceEvents
  .filter((e) => e.ph === "M" || e.ts <= untilUs)
  .map((e) => (e.ph === "X" && e.ts + e.dur > untilUs ? { ...e, dur: untilUs - e.ts } : e));
writeFileSync(join(work, "first-8us.json"), JSON.stringify(trace));

const port = 9300 + (process.pid % 500);
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", `--remote-debugging-port=${port}`] });
try {
  for (const [html, png, height] of [
    ["run.html", "report-flagship.png", 1500],
    ["explore.html", "report-explore.png", 1100],
  ]) {
    const page = await browser.newPage({ viewport: { width: 1100, height } });
    await page.goto(`file://${join(work, html)}`);
    await page.screenshot({ path: join(root, "docs", png) });
    await page.close();
  }
  // DevTools draws on a canvas: the clicks below are at the places its layout puts the tracks.
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(`http://127.0.0.1:${port}/devtools/trace_app.html`);
  await page.waitForTimeout(2500);
  await page.keyboard.press("Escape");
  await page.getByText("Performance", { exact: true }).first().click();
  await page.waitForTimeout(1000);
  const chooser = page.waitForEvent("filechooser");
  await page.keyboard.press("Control+O");
  await (await chooser).setFiles(join(work, "first-8us.json"));
  await page.waitForTimeout(6000);
  await page.mouse.click(1571, 77); // the keyboard-shortcuts card
  await page.waitForTimeout(300);
  await page.mouse.click(16, 39); // the sidebar
  await page.waitForTimeout(500);
  await page.mouse.click(243, 500); // focus on the flame chart
  await page.waitForTimeout(300);
  for (const y of [170, 150, 129]) {
    await page.mouse.click(10, y); // the groups: VFIO devices, NIC, links
    await page.waitForTimeout(400);
  }
  const rows = [126, 145, 163, 181, 199, 217, 250, 269, 287, 305, 323, 341, 360, 393, 411].map((y) => Math.round(y * 1.152));
  // nic0's link up, the link down to gpu0, the CQ and its second lane, the requester QP, the driver, gpu0.
  for (const row of [14, 9, 8, 7, 6, 4, 0]) {
    await page.mouse.click(20, rows[row]);
    await page.waitForTimeout(250);
  }
  await page.mouse.move(800, 900);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(root, "docs/trace-flagship.png"), clip: { x: 0, y: 0, width: 1600, height: 760 } });
} finally {
  await browser.close();
}
console.log(`wrote docs/report-flagship.png, docs/report-explore.png and docs/trace-flagship.png (inputs in ${work})`);
