#!/usr/bin/env node
/**
 * `kubectl_complete-vm`: shell completion for `kubectl vm` (kubectl ≥ 1.26 runs it when a
 * user presses TAB after `kubectl vm`). Prints candidates and cobra's directive line.
 */
import { complete, completionOutput } from "./vm/complete.js";

const words = process.argv.slice(2);
// Completion must never hang a shell: answer with what we have after 2 s.
const give = setTimeout(() => {
  process.stdout.write(completionOutput([]));
  process.exit(0);
}, 2000);

const answer = complete(words, {
  async vms(namespace) {
    const { listVmNames } = await import("./vm/commands.js");
    return listVmNames(words, namespace);
  },
  async namespaces() {
    const { listNamespaces } = await import("./vm/commands.js");
    return listNamespaces(words);
  },
  contexts() {
    return [];
  },
}).catch(() => []);
// No top-level await: the single-file build is CommonJS (see kubectl-vm.ts).
void answer.then((candidates) => {
  clearTimeout(give);
  process.stdout.write(completionOutput(candidates));
  setImmediate(() => process.exit(0));
});
