import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { cacheDir } from "../../util/paths.js";

/** How long each cold build took, for the benchmark and the closing notes. */
export const BuildEntry = z.object({
  component: z.string(),
  version: z.string(),
  binaries: z.array(z.string()),
  seconds: z.number(),
  finishedAt: z.string(),
  goVersion: z.string().optional(),
  nproc: z.number().optional(),
  /** "build-kube" when this script built it; otherwise where the figure came from. */
  source: z.string(),
  note: z.string().optional(),
});
export type BuildEntry = z.infer<typeof BuildEntry>;

export const BuildRecord = z.record(z.string(), BuildEntry);
export type BuildRecord = z.infer<typeof BuildRecord>;

export function recordPath(): string {
  return cacheDir("build-record.json");
}

export function readBuildRecord(path = recordPath()): BuildRecord {
  try {
    return BuildRecord.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
}

/** Read-modify-write with an atomic rename: builds of different components may finish together. */
export function writeBuildEntry(key: string, entry: BuildEntry, path = recordPath()): void {
  const record = { ...readBuildRecord(path), [key]: entry };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, path);
}
