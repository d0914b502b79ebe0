import { defineConfig } from "vitest/config";

/**
 * The real-node run (`npm run test:real-nodes`, the second half of `npm test`): the whole e2e
 * suite and tests/real-nodes/ against one cluster of two real kubelets with containerd, the
 * image built from the Dockerfile and the chart installed unchanged. Needs root.
 */
export default defineConfig({
  test: {
    env: { KUBEVISOR_LOG_LEVEL: process.env.KUBEVISOR_LOG_LEVEL ?? "warn" },
    projects: [
      {
        extends: true,
        test: {
          name: "real-nodes",
          include: ["tests/e2e/**/*.test.ts", "tests/real-nodes/**/*.test.ts"],
          globalSetup: ["tests/real-nodes/global-setup.ts"],
          setupFiles: ["tests/kubeconfig-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
