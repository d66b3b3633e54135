/**
 * The HTML reports in a real browser: headless Chromium (Debian's package, driven by
 * playwright-core with its executable path set) opens a run, an explore and a perf report
 * written by the commands, checks that the verdict, the plots and the topology render (present,
 * with a non-zero size), that the page logs no error and asks the network for nothing, and saves
 * a screenshot of each under test-output/browser/. Skipped, with a message, where Chromium is not
 * installed (`.ci/run` installs it).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exploreCommand } from "../../src/cli/explore-command.js";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import { perfCommand } from "../../src/cli/perf-command.js";
import { runCommand } from "../../src/cli/run-command.js";
import { REPO } from "../io/report-fixtures.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const OUT = join(REPO, "test-output", "browser");

if (!HAVE_CHROMIUM) console.warn(`report.browser.test: skipped — no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

const quiet = () => undefined;

/** Opens a report and gathers what the page said and asked for. */
async function open(browser: Browser, file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  const url = pathToFileURL(file).href;
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, errors, requests };
}

/** Every element matching `selector`, with its rendered size; fails when there is none. */
async function sizes(page: Page, selector: string): Promise<Array<{ width: number; height: number }>> {
  const boxes = await page
    .locator(selector)
    .evaluateAll((els) => els.map((el) => el.getBoundingClientRect()).map((r) => ({ width: r.width, height: r.height })));
  expect(boxes.length, selector).toBeGreaterThan(0);
  return boxes;
}

/** Checks every match has a box (a line may be one pixel thin: length is enough); returns how many. */
async function expectRendered(page: Page, selector: string, kind: "area" | "line" = "area"): Promise<number> {
  const boxes = await sizes(page, selector);
  for (const box of boxes) expect(kind === "area" ? box.width * box.height : box.width + box.height, `${selector} has a zero-size box`).toBeGreaterThan(0);
  return boxes.length;
}

describe.skipIf(!HAVE_CHROMIUM)("HTML reports in headless Chromium", () => {
  let browser: Browser;
  const files = { run: join(OUT, "run.html"), explore: join(OUT, "explore.html"), perf: join(OUT, "perf.html") };

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    const flagship = join(REPO, "scenarios", "revoke-during-cq-writes.yaml");
    expect(runCommand({ file: flagship, profile: "vfio-dmabuf-initial", json: true, checkDeterminism: false, report: files.run }, "test", quiet, quiet)).toBe(
      1,
    );
    const flr = join(REPO, "scenarios", "rdma-write-during-flr.yaml");
    const io = { print: quiet, printError: quiet, progress: { isTTY: false, write: quiet } };
    const explore = {
      file: flr,
      seeds: "1..12",
      swarm: false,
      jobs: 1,
      stopOnFirst: false,
      mutants: ["callback-returns-before-drain" as const],
      checkDeterminism: false,
      json: true,
    };
    expect(exploreCommand({ ...explore, report: files.explore }, "test", io)).toBe(1);
    const perf = {
      link: "gen4x16",
      mps: 256,
      mrrs: 512,
      rcb: 64,
      rcbChunks: false,
      addr: 64,
      ecrc: false,
      op: "write",
      sizes: "64,256,4K",
      ideal: false,
      json: true,
    };
    expect(perfCommand({ ...perf, profile: "xeon-e5-v3-gen3x8", report: files.perf }, quiet, quiet)).toBe(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("the run report shows the VIOLATION banner, the chain, the timeline with the revoke, and the topology tree", async () => {
    const { page, errors, requests } = await open(browser, files.run);
    expect(await page.locator("#verdict .word").textContent()).toBe("VIOLATION");
    expect(
      await page
        .locator("#verdict")
        .evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor),
    ).toBe("rgb(185, 28, 28)");
    await expectRendered(page, "div.chain[data-invariant='I1'] tbody tr");
    await expectRendered(page, "svg.timeline");
    await expectRendered(page, "svg.timeline .tl-revoke", "line");
    await expectRendered(page, "svg.timeline .tl-violation[data-invariant='I1'] line", "line");
    expect(await expectRendered(page, "svg.timeline .tl-late")).toBeGreaterThan(0);
    await expectRendered(page, "svg.topology");
    const loaded = loadScenarioFile(join(REPO, "scenarios", "revoke-during-cq-writes.yaml"));
    expect(await expectRendered(page, "svg.topology g.topo-node")).toBe(loaded.ok ? loaded.loaded.topology.functions.length : -1);
    expect(await page.locator("svg.topology g.topo-node[data-label='nic0']").getAttribute("data-map-type")).toBe("bus-addr");
    await page.screenshot({ path: join(OUT, "run.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("the explore report shows the seed grid, the probe lists, the shrunk scenario and the topology", async () => {
    const { page, errors, requests } = await open(browser, files.explore);
    expect(await page.locator("#verdict .word").textContent()).toBe("FAIL");
    expect(await expectRendered(page, "svg.seed-grid rect.seed-cell")).toBe(12);
    await expectRendered(page, ".probe-hit");
    await expectRendered(page, "pre.shrunk-yaml");
    expect(await page.locator("pre.shrunk-yaml").textContent()).toMatch(/^# rdma-write-during-flr-shrunk$/m);
    expect(await expectRendered(page, "svg.topology g.topo-node")).toBeGreaterThan(0);
    await page.screenshot({ path: join(OUT, "explore.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("the perf report shows the goodput plot with the model ceiling and the latency plot, with their axes", async () => {
    const { page, errors, requests } = await open(browser, files.perf);
    await expectRendered(page, "svg.plot-goodput");
    await expectRendered(page, "svg.plot-latency");
    expect(await page.locator("svg.plot-goodput g.series").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-series")))).toEqual([
      "p2psim (simulated)",
      "pcie-bench model ceiling",
    ]);
    await expectRendered(page, "svg.plot-goodput g.series polyline");
    await expectRendered(page, "svg.plot-goodput .x-axis", "line");
    expect(await page.locator("svg.plot-latency .y-label").textContent()).toBe("latency (ns)");
    await page.screenshot({ path: join(OUT, "perf.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  });
});
