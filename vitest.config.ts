import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The determinism tests start child processes and workers; give slow CI machines room.
    testTimeout: 60_000,
    pool: "forks",
  },
});
