#!/usr/bin/env node
// The second half of `npm test`: the e2e suite and tests/real-nodes/ on real kubelets with
// containerd (vitest.real-nodes.config.ts). Real nodes need root; KUBEVISOR_REAL_NODES=0 skips
// them, saying so, for a developer without root. Extra arguments go to vitest.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

if (process.env.KUBEVISOR_REAL_NODES === "0") {
  console.log("real-node run skipped (KUBEVISOR_REAL_NODES=0)");
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  console.error(
    "the real-node run needs root (kubelets, containerd, a network namespace): run `npm test` as root, or set KUBEVISOR_REAL_NODES=0 to skip it",
  );
  process.exit(1);
}
const root = join(import.meta.dirname, "..");
const args = [
  "scripts/node-runtime.mjs",
  "exec",
  "vitest",
  "run",
  "--config",
  "vitest.real-nodes.config.ts",
];
const r = spawnSync(process.execPath, [...args, ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
