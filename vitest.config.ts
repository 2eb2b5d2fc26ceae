// Test runner settings: integration tests start real servers and load the real model, so they run one file at a time.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Plugin fixtures `import … from "clawbot"`: the sources, not the package's exports (dist/, built by `npm run build`).
  resolve: { alias: [{ find: /^clawbot$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }] },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: "forks",
    // Nodes started by tests (and the CLI processes they spawn) bind any free port for their metrics, not 9090.
    env: { CLAWBOT_METRICS_PORT: "0" },
  },
});
