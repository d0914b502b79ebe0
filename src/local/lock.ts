import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { isAlive } from "./process.js";

export class LockedError extends Error {
  override name = "LockedError";
}

/**
 * Holds a pid lock file while `fn` runs, so two builds of one wrapper module, or two
 * `local up` of one cluster, never run at once. A lock whose pid is gone is stale and taken
 * over; a live holder makes us fail with `busy(pid)` rather than wait silently.
 */
export async function withLock<T>(
  path: string,
  busy: (pid: number) => string,
  fn: () => Promise<T>,
): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const pid = Number(readFileSync(path, "utf8"));
      if (isAlive(pid)) throw new LockedError(busy(pid));
      rmSync(path, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
