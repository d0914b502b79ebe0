/**
 * Builds the web UI (src/ui/app) into dist/ui/public: one ES module bundle, its CSS (ours,
 * xterm's) and index.html. Run by `npm run build`; the UI servers only ever serve these files.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist/ui/public");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, "src/ui/app/main.tsx")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  tsconfig: join(root, "src/ui/app/tsconfig.json"),
  logLevel: "warning",
});
const css = [
  readFileSync(join(root, "node_modules/@xterm/xterm/css/xterm.css"), "utf8"),
  readFileSync(join(root, "src/ui/app/style.css"), "utf8"),
].join("\n");
writeFileSync(join(out, "app.css"), css);
copyFileSync(join(root, "src/ui/app/index.html"), join(out, "index.html"));
