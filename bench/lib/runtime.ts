import { parseArgs } from "node:util";
import { parseRuntime, type Runtime } from "../../src/local/runtime.js";

/**
 * `npm run bench -- NAME --runtime containerd`: which nodes a product benchmark runs on
 * (default the stand-in). argv is what follows the benchmark's name.
 */
export function benchRuntime(argv: string[] = process.argv.slice(3)): Runtime {
  const { values } = parseArgs({
    args: argv,
    options: { runtime: { type: "string" } },
    strict: true,
  });
  return parseRuntime(values.runtime);
}
