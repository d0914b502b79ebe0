/**
 * The built app (dist/ui/public, written by scripts/build-ui.ts), read once at start: only
 * the files found there are ever served, so no request path reaches the file system.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
  ".woff2": "font/woff2",
};

export interface Asset {
  type: string;
  body: Buffer;
}

/** dist/ui/public beside this module's dist/ui/server. */
export function defaultAssetsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "public");
}

export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else
        assets.set(`/${relative(dir, full).split("\\").join("/")}`, {
          type: TYPES[extname(name)] ?? "application/octet-stream",
          body: readFileSync(full),
        });
    }
  };
  walk(dir);
  if (!assets.has("/index.html"))
    throw new Error(`the UI is not built: ${dir}/index.html is missing (npm run build)`);
  return assets;
}

/** Assets from the plugin's embedded copy (see ./embedded.ts). */
export function embeddedAssets(files: Readonly<Record<string, string>>): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [path, b64] of Object.entries(files))
    assets.set(path, {
      type: TYPES[extname(path)] ?? "application/octet-stream",
      body: Buffer.from(b64, "base64"),
    });
  return assets;
}

/** A path names an asset, or is one of the app's own routes (served index.html). */
export function assetFor(assets: Map<string, Asset>, pathname: string): Asset {
  return assets.get(pathname) ?? (assets.get("/index.html") as Asset);
}
