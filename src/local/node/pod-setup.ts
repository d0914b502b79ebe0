import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CoreV1Api, V1Pod, V1Volume } from "@kubernetes/client-node";
import type { NodeContext } from "./context.js";
import type { Lookups } from "./env.js";
import { ContainerConfigError } from "./env.js";
import type { PodFacts } from "./fieldpath.js";
import { type Bind, resolveImage } from "./image-store.js";
import {
  isRenderedVolume,
  referencedObjects,
  renderVolume,
  tokenRequests,
  type VolumeHost,
} from "./volumes.js";

/**
 * The impure half of pod setup: fetching what a pod references from the API, writing its
 * volume files and per-pod /etc files. The pure decisions live in volumes.ts.
 */

/** An image (of a container or an image volume) the local store does not have. */
export class ImagePullError extends Error {
  override name = "ImagePullError";
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: number; statusCode?: number };
  return e.code === 404 || e.statusCode === 404;
}

async function getOrUndefined<T>(get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function fetchLookups(core: CoreV1Api, pod: V1Pod): Promise<Lookups> {
  const spec = pod.spec;
  const namespace = pod.metadata?.namespace ?? "default";
  const refs = referencedObjects(
    [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])],
    spec?.volumes ?? [],
  );
  const lookups: Lookups = { configMaps: new Map(), secrets: new Map() };
  await Promise.all([
    ...[...refs.configMaps].map(async (name) => {
      lookups.configMaps.set(
        name,
        await getOrUndefined(() => core.readNamespacedConfigMap({ name, namespace })),
      );
    }),
    ...[...refs.secrets].map(async (name) => {
      lookups.secrets.set(
        name,
        await getOrUndefined(() => core.readNamespacedSecret({ name, namespace })),
      );
    }),
  ]);
  return lookups;
}

/** Bound service-account tokens, requested as the kubelet does (bound to this pod). */
async function fetchTokens(
  core: CoreV1Api,
  pod: V1Pod,
  volumes: V1Volume[],
): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  const namespace = pod.metadata?.namespace ?? "default";
  const name = pod.spec?.serviceAccountName ?? "default";
  for (const req of volumes.flatMap(tokenRequests)) {
    const tr = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: {
        spec: {
          audiences: req.audience ? [req.audience] : [],
          expirationSeconds: req.expirationSeconds,
          boundObjectRef: {
            apiVersion: "v1",
            kind: "Pod",
            name: pod.metadata?.name,
            uid: pod.metadata?.uid,
          },
        },
      },
    });
    tokens.set(req.id, tr.status?.token ?? "");
  }
  return tokens;
}

/** Host directory of a PVC: its bound PV's hostPath/local path, else a per-claim directory. */
async function claimPath(ctx: NodeContext, namespace: string, claimName: string): Promise<string> {
  const pvc = await getOrUndefined(() =>
    ctx.core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace }),
  );
  if (!pvc) throw new ContainerConfigError(`persistentvolumeclaim "${claimName}" not found`);
  const pvName = pvc.spec?.volumeName;
  const pv = pvName
    ? await getOrUndefined(() => ctx.core.readPersistentVolume({ name: pvName }))
    : undefined;
  const path =
    pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path ?? ctx.layout.claimDir(namespace, claimName);
  mkdirSync(path, { recursive: true });
  return path;
}

function writeVolumeFiles(
  dir: string,
  files: { path: string; content: Buffer; mode: number }[],
): void {
  // Rewritten whole on every pod start: no stale keys survive a ConfigMap edit.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of files) {
    const p = join(dir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
    chmodSync(p, f.mode);
  }
}

/** Prepares every volume of the pod on the host; returns where each one lives. */
export async function prepareVolumes(
  ctx: NodeContext,
  pod: V1Pod,
  facts: PodFacts,
  lookups: Lookups,
): Promise<Map<string, VolumeHost>> {
  const uid = pod.metadata?.uid ?? "";
  const namespace = pod.metadata?.namespace ?? "default";
  const volumes = pod.spec?.volumes ?? [];
  const tokens = await fetchTokens(ctx.core, pod, volumes);
  const hosts = new Map<string, VolumeHost>();
  for (const v of volumes) {
    const dir = ctx.layout.volumeDir(uid, v.name);
    if (isRenderedVolume(v)) {
      writeVolumeFiles(dir, renderVolume(v, facts, { ...lookups, tokens }) ?? []);
      hosts.set(v.name, { path: dir, readOnly: true });
    } else if (v.emptyDir) {
      // Memory-backed emptyDirs are plain directories too: nothing enforces sizeLimit here.
      mkdirSync(dir, { recursive: true });
      hosts.set(v.name, { path: dir, readOnly: false });
    } else if (v.hostPath) {
      const { path, type } = v.hostPath;
      if (type === "DirectoryOrCreate") mkdirSync(path, { recursive: true });
      if (type === "FileOrCreate" && !existsSync(path)) {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, "");
      }
      hosts.set(v.name, { path, readOnly: false });
    } else if (v.persistentVolumeClaim) {
      const path = await claimPath(ctx, namespace, v.persistentVolumeClaim.claimName);
      hosts.set(v.name, { path, readOnly: Boolean(v.persistentVolumeClaim.readOnly) });
    } else if (v.image) {
      const r = resolveImage(v.image.reference ?? "", ctx.images());
      if (!r.ok) throw new ImagePullError(r.message);
      hosts.set(v.name, { path: r.image.dir, readOnly: true });
    } else {
      throw new ContainerConfigError(
        `volume ${v.name}: this volume type is not supported on local nodes`,
      );
    }
  }
  return hosts;
}

/** /etc/hosts and /etc/hostname as the kubelet writes them for a pod on the pod network. */
export function writePodEtc(ctx: NodeContext, pod: V1Pod, podIP: string): Bind[] {
  const uid = pod.metadata?.uid ?? "";
  const hostname = pod.spec?.hostname ?? pod.metadata?.name ?? "pod";
  const dir = ctx.layout.etcDir(uid);
  mkdirSync(dir, { recursive: true });
  const hosts = [
    "# Kubernetes-managed hosts file (kubevisor local node).",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${podIP}\t${hostname}`,
    ...(pod.spec?.hostAliases ?? []).map((a) => `${a.ip}\t${(a.hostnames ?? []).join("\t")}`),
    "",
  ].join("\n");
  writeFileSync(join(dir, "hosts"), hosts);
  writeFileSync(join(dir, "hostname"), `${hostname}\n`);
  return [
    { source: join(dir, "hosts"), dest: "/etc/hosts" },
    { source: join(dir, "hostname"), dest: "/etc/hostname" },
  ];
}
