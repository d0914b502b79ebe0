import { isAbsolute, relative, resolve } from "node:path";

/**
 * Resolve `inner` (a path inside an image, e.g. `/boot/vmlinuz`) below `root`, refusing any
 * path that escapes it: spec paths come from users and must not reach the launcher's files.
 */
export function pathInside(root: string, inner: string): string {
  const full = resolve(root, `.${resolve("/", inner)}`);
  const rel = relative(root, full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw new Error(`path "${inner}" does not name a file inside ${root}`);
  }
  return full;
}
