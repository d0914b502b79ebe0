/**
 * `npm run bench -- NAME`: runs bench/NAME.ts (its default export). Without a name, lists
 * the benchmarks available.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();

const name = process.argv[2];
if (!name || !available.includes(name)) {
  if (name) console.error(`unknown benchmark "${name}"`);
  console.error(`usage: npm run bench -- NAME\navailable: ${available.join(", ")}`);
  process.exit(name ? 2 : 0);
}
process.env.KUBEVISOR_LOG_LEVEL ??= "warn";
const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as {
  default?: () => Promise<void>;
};
if (typeof mod.default !== "function") {
  console.error(`bench/${name}.ts has no default export to run`);
  process.exit(2);
}
await mod.default();
