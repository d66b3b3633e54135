import { it } from "vitest";
import { rdmaWriteStreamRun } from "../../bench/rdma-workloads.js";
it("times", () => {
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    const r = rdmaWriteStreamRun(100_000);
    console.log(((performance.now() - t) / 1000).toFixed(2), "s", r.tlps, r.events, r.failed);
  }
}, 120_000);
