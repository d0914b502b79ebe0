import { chmodSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { V1Pod, V1Volume } from "@kubernetes/client-node";
import type { Logger } from "../../util/log.js";
import type { NodeContext } from "./context.js";
import type { PodFacts } from "./fieldpath.js";
import { fetchLookups } from "./pod-setup.js";
import { renderVolume, type VolumeFile } from "./volumes.js";

/**
 * Secret and ConfigMap volumes follow their objects while the pod runs, as the kubelet's
 * volume manager does (it syncs within about a minute): launchers re-read renewed TLS
 * certificates from their Secret volume. Other rendered volumes (downwardAPI, projected
 * tokens) stay as written at start.
 */
export const VOLUME_SYNC_MS = 10_000;

/** Pure: the volumes kept in sync — plain `secret` and `configMap` ones (not subPath-mounted). */
export function syncedVolumes(pod: V1Pod): V1Volume[] {
  const subPathed = new Set(
    [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].flatMap((c) =>
      (c.volumeMounts ?? []).filter((m) => m.subPath).map((m) => m.name),
    ),
  );
  return (pod.spec?.volumes ?? []).filter(
    (v) => (v.secret || v.configMap) && !subPathed.has(v.name),
  );
}

/**
 * Brings a volume directory to `files` in place: each changed file is written beside and
 * renamed over (a reader sees the old or the new file, never a torn one); files no longer
 * there are removed. The directory itself stays: containers have it bind-mounted, and a new
 * one would never reach them. Returns whether anything changed.
 */
export function updateVolumeFiles(dir: string, files: VolumeFile[]): boolean {
  let changed = false;
  const want = new Set(files.map((f) => f.path));
  for (const f of files) {
    const p = join(dir, f.path);
    let same = false;
    try {
      same = readFileSync(p).equals(f.content);
    } catch {
      same = false;
    }
    if (same) continue;
    const tmp = join(dirname(p), `..${f.path.replaceAll("/", "_")}.tmp`);
    writeFileSync(tmp, f.content);
    chmodSync(tmp, f.mode);
    renameSync(tmp, p);
    changed = true;
  }
  for (const name of readdirSync(dir)) {
    if (!want.has(name) && !name.startsWith("..")) {
      rmSync(join(dir, name), { recursive: true, force: true });
      changed = true;
    }
  }
  return changed;
}

/** Re-renders the pod's synced volumes every `intervalMs`; returns the stop function. */
export function startVolumeSync(
  ctx: NodeContext,
  pod: V1Pod,
  facts: PodFacts,
  log: Logger,
  intervalMs = VOLUME_SYNC_MS,
): () => void {
  const volumes = syncedVolumes(pod);
  if (volumes.length === 0) return () => {};
  const uid = pod.metadata?.uid ?? "";
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    fetchLookups(ctx.core, pod)
      .then((lookups) => {
        for (const v of volumes) {
          const files = renderVolume(v, facts, { ...lookups, tokens: new Map() });
          // A Secret deleted meanwhile: keep the files, as the kubelet does.
          if (!files) continue;
          if (updateVolumeFiles(ctx.layout.volumeDir(uid, v.name), files))
            log.info({ volume: v.name }, "volume updated from its object");
        }
      })
      .catch((err: unknown) => log.debug({ err }, "volume sync failed; retrying"))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
