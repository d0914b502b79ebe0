import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { nodeLayout } from "./layout.js";

/**
 * Container log files: one per container, appended across restarts, under
 * `<cluster>/nodes/<node>/logs/<namespace>_<pod>_<uid>/<container>.log` (the shape of the
 * kubelet's /var/log/pods). Logs outlive their pod until the node's state is purged.
 */

/** Pure: the last `lines` lines of `text`, at most `bytes` long (kubelet's FallbackToLogsOnError). */
export function tail(text: string, lines: number, bytes: number): string {
  const kept = text.replace(/\n$/, "").split("\n").slice(-lines).join("\n");
  return kept.length > bytes ? kept.slice(kept.length - bytes) : kept;
}

/** Up to `max` bytes of a file from `offset` on ("" if missing). */
export function readFrom(path: string, offset = 0, max = 64 * 1024): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "";
  }
  try {
    const size = statSync(path).size;
    const start = Math.max(offset, size - max);
    const buf = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

export interface LogMatch {
  node: string;
  dir: string;
  /** Container names with a log file. */
  containers: string[];
  mtimeMs: number;
}

/** Log directories of pod `name` in `namespace` across the nodes of a cluster, newest first. */
export function findPodLogs(clusterDir: string, namespace: string, name: string): LogMatch[] {
  const nodesDir = join(clusterDir, "nodes");
  if (!existsSync(nodesDir)) return [];
  const matches: LogMatch[] = [];
  for (const node of readdirSync(nodesDir)) {
    const logsDir = nodeLayout(clusterDir, node).logsDir;
    if (!existsSync(logsDir)) continue;
    for (const entry of readdirSync(logsDir)) {
      // <namespace>_<pod>_<uid>: names cannot contain "_", so the split is unambiguous.
      const [ns, pod] = entry.split("_");
      if (ns !== namespace || pod !== name) continue;
      const dir = join(logsDir, entry);
      const containers = readdirSync(dir)
        .filter((f) => f.endsWith(".log"))
        .map((f) => f.slice(0, -4));
      const mtimeMs = Math.max(
        0,
        ...containers.map((c) => statSync(join(dir, `${c}.log`)).mtimeMs),
      );
      matches.push({ node, dir, containers, mtimeMs });
    }
  }
  return matches.sort((a, b) => b.mtimeMs - a.mtimeMs);
}
