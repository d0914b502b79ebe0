import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * What the image is built from. The build context is an allow-list (.dockerignore holds the
 * same entries, a unit test keeps the two equal), so hashing exactly these paths tells whether
 * an earlier build still matches the tree.
 */
export const CONTEXT_PATHS = [
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "src",
  "scripts",
] as const;

/** Files that shape the image without being in its context. */
export const BUILD_FILES = ["Dockerfile", ".dockerignore"] as const;

/** Every regular file under `paths` (relative to `root`), sorted so the hash is stable. */
export function listInputFiles(root: string, paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) {
      for (const e of readdirSync(abs).sort()) walk(join(abs, e));
    } else {
      out.push(relative(root, abs));
    }
  };
  for (const p of paths) walk(join(root, p));
  return out.sort();
}

/**
 * A short hash of the context, the Dockerfile and `extra` (base image names, versions): equal
 * hashes mean an earlier archive can be reused. Paths and modes count as well as contents.
 */
export function hashInputs(root: string, extra: Record<string, string>): string {
  const h = createHash("sha256");
  for (const file of listInputFiles(root, [...BUILD_FILES, ...CONTEXT_PATHS])) {
    const abs = join(root, file);
    h.update(`${file}\0${statSync(abs).mode & 0o111 ? "x" : "-"}\0`);
    h.update(readFileSync(abs));
    h.update("\0");
  }
  h.update(JSON.stringify(Object.entries(extra).sort()));
  return h.digest("hex").slice(0, 16);
}
