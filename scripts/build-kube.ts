/**
 * Builds (once, cached by version) the binaries of the local control plane: kube-apiserver,
 * kube-controller-manager, kube-scheduler, etcd and Helm, and promtool for the tests (the
 * chart's alert rules); on request also the real-node parts (kubernetes-node = kubelet +
 * kube-proxy, containerd, runc, pause).
 *
 *   npm run kube:build                 # everything missing
 *   npm run kube:build -- etcd helm    # only these components
 */
import { parseArgs } from "node:util";
import { ensureBinaries } from "../src/local/build/build.js";
import { GoToolchainError } from "../src/local/build/go.js";
import {
  COMPONENT_NAMES,
  type ComponentName,
  DEFAULT_COMPONENTS,
} from "../src/local/build/targets.js";
import { LockedError } from "../src/local/lock.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log(`usage: npm run kube:build -- [${COMPONENT_NAMES.join("|")}]...`);
  process.exit(0);
}
const unknown = positionals.filter((p) => !COMPONENT_NAMES.includes(p as ComponentName));
if (unknown.length > 0) {
  console.error(
    `unknown component(s): ${unknown.join(", ")}; known: ${COMPONENT_NAMES.join(", ")}`,
  );
  process.exit(2);
}

try {
  const dirs = await ensureBinaries({
    components: positionals.length > 0 ? (positionals as ComponentName[]) : DEFAULT_COMPONENTS,
  });
  for (const [name, dir] of Object.entries(dirs)) console.log(`${name}: ${dir}`);
} catch (err) {
  if (err instanceof GoToolchainError || err instanceof LockedError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
