import { defineConfig } from "vitest/config";

/**
 * The stand-in run: unit, integration and e2e on bubblewrap nodes. The same e2e suite runs
 * again on real kubelets with containerd in vitest.real-nodes.config.ts (`npm test` runs
 * both, one after the other: only one real-node cluster can run on a machine).
 */
export default defineConfig({
  test: {
    // Components log JSON at info; in a test run only their warnings and errors help.
    env: { KUBEVISOR_LOG_LEVEL: process.env.KUBEVISOR_LOG_LEVEL ?? "warn" },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["tests/unit/**/*.test.ts"], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: "integration",
          // Projects run one after another: timing-sensitive guests get both cores.
          sequence: { groupOrder: 1 },
          include: ["tests/integration/**/*.test.ts"],
          globalSetup: ["tests/integration/global-setup.ts"],
          setupFiles: ["tests/kubeconfig-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          sequence: { groupOrder: 2 },
          include: ["tests/e2e/**/*.test.ts"],
          globalSetup: ["tests/e2e/global-setup.ts"],
          setupFiles: ["tests/kubeconfig-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
