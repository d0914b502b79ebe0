/**
 * The single-file kubectl plugin: `dist/plugin/kubectl-vm` and `kubectl_complete-vm`, each one
 * JavaScript file that runs with only Node.js installed (no node_modules), plus the krew
 * archive and manifest (`dist/plugin/kubevisor-vm.tar.gz`, `dist/plugin/vm.yaml`).
 * `npm run build` runs it after tsc. The manifest's download URL comes from
 * KUBEVISOR_PLUGIN_URL (a release asset); its sha256 is the archive's own.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "dax-sh";
import { build, type Plugin } from "esbuild";
import { krewManifest } from "../src/cli/krew.js";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist", "plugin");
mkdirSync(out, { recursive: true });
const version = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }
).version;

// CommonJS: an extension-less file outside any package.json is read as CommonJS.
const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  write: false,
} as const;

// The commands (client-node, ws, yaml: 1.5 MB) are bundled on their own and carried as a
// string: V8 only scans a string literal at start-up, where it would pre-parse 1.5 MB of
// code, so --help and usage errors cost little more than starting Node.
// `kubectl vm ui` serves the web app (scripts/build-ui.ts runs first) from inside the file.
const uiDir = join(root, "dist", "ui", "public");
const uiFiles = Object.fromEntries(
  readdirSync(uiDir)
    .filter((f) => !f.endsWith(".map"))
    .map((f) => [`/${f}`, readFileSync(join(uiDir, f)).toString("base64")]),
);
const embedUi: Plugin = {
  name: "embed-ui",
  setup(b) {
    b.onLoad({ filter: /ui[\\/]server[\\/]embedded\.ts$/ }, () => ({
      loader: "js",
      contents: `export const EMBEDDED_ASSETS = ${JSON.stringify(uiFiles)};`,
    }));
  },
};
const commands = await build({
  ...common,
  entryPoints: [join(root, "src/cli/vm/commands.ts")],
  plugins: [embedUi],
  // defaultAssetsDir() reads import.meta.url, but only when no assets are embedded.
  logOverride: { "empty-import-meta": "silent" },
});
const commandsCode = commands.outputFiles[0]?.text ?? "";
const lazyCommands: Plugin = {
  name: "lazy-commands",
  setup(b) {
    b.onResolve({ filter: /\/vm\/commands\.js$/ }, () => ({ path: "commands", namespace: "lazy" }));
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      loader: "js",
      contents: `const m = { exports: {} };
new Function("module", "exports", "require", "__filename", "__dirname", ${JSON.stringify(commandsCode)})(m, m.exports, require, __filename, __dirname);
module.exports = m.exports;`,
    }));
  },
};

for (const [entry, name] of [
  ["src/cli/kubectl-vm.ts", "kubectl-vm"],
  ["src/cli/kubectl_complete-vm.ts", "kubectl_complete-vm"],
] as const) {
  const file = join(out, name);
  const result = await build({
    ...common,
    entryPoints: [join(root, entry)],
    plugins: [lazyCommands],
    // Minified code may not carry the hashbang through; put it back.
    banner: { js: "#!/usr/bin/env node" },
  });
  writeFileSync(
    file,
    (result.outputFiles[0]?.text ?? "").replace(/^(#!.*\n)+/, "#!/usr/bin/env node\n"),
  );
  chmodSync(file, 0o755);
}

const archive = join(out, "kubevisor-vm.tar.gz");
await $`tar -C ${out} --owner=0 --group=0 --mtime=@0 -czf ${archive} kubectl-vm kubectl_complete-vm`;
const sha256 = createHash("sha256").update(readFileSync(archive)).digest("hex");
const uri =
  process.env.KUBEVISOR_PLUGIN_URL ??
  `https://github.com/kubevisor/kubevisor/releases/download/v${version}/kubevisor-vm.tar.gz`;
writeFileSync(join(out, "vm.yaml"), krewManifest({ version, uri, sha256 }));
console.log(`plugin: ${out}/kubectl-vm (single file), krew archive sha256 ${sha256}`);
