/**
 * Where the compiled CLI the spawn tests run lives: `P2PSIM_DIST` (a private build, so a helper can
 * test without writing the shared dist/), else the repository's dist/ that `npm test` builds.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");
export const MAIN = join(process.env.P2PSIM_DIST ?? join(REPO, "dist"), "src", "cli", "main.js");
export const FLAGSHIP = join(REPO, "scenarios", "revoke-during-cq-writes.yaml");

/** Runs `p2psim ARGS…` in a fresh process. */
export const p2psim = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
