import { defineConfig } from "vitest/config";

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
      // Real nodes (kubelet + containerd): needs root and builds kubelet, containerd and runc
      // on first use, so it joins only when asked: KUBEVISOR_REAL_NODES=1.
      ...(process.env.KUBEVISOR_REAL_NODES === "1"
        ? [
            {
              extends: true as const,
              test: {
                name: "real-nodes",
                sequence: { groupOrder: 3 },
                include: ["tests/real-nodes/**/*.test.ts"],
                testTimeout: 300_000,
                hookTimeout: 1_800_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
