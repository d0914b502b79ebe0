import { join, normalize } from "node:path";
import type {
  V1ConfigMap,
  V1Container,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1Secret,
  V1Volume,
} from "@kubernetes/client-node";
import { ContainerConfigError, type Lookups } from "./env.js";
import { type PodFacts, resolveFieldRef, resolveResourceFieldRef } from "./fieldpath.js";

/**
 * Pod volumes as host directories. Pure: what files a ConfigMap/Secret/downwardAPI/projected
 * volume holds, and which host path each volumeMount binds. Writing the files and asking
 * the API for tokens and claims is the pod worker's job.
 */

export interface VolumeFile {
  /** Relative to the volume's root. */
  path: string;
  content: Buffer;
  mode: number;
}

export interface TokenRequestSpec {
  /** Key into the `tokens` map handed to `renderVolume`: volume name + file path. */
  id: string;
  audience?: string;
  expirationSeconds: number;
}

export interface VolumeInputs extends Lookups {
  /** TokenRequest results by TokenRequestSpec.id. */
  tokens: Map<string, string>;
}

/** Where each volume lives on the host, decided by the pod worker. */
export interface VolumeHost {
  path: string;
  readOnly: boolean;
}

export interface Mount {
  source: string;
  dest: string;
  readOnly: boolean;
}

const DEFAULT_MODE = 0o644;

/** Relative file paths may not escape their volume (the apiserver validates this too). */
function safeRelative(p: string): string {
  const n = normalize(p);
  if (n.startsWith("..") || n.startsWith("/"))
    throw new ContainerConfigError(`invalid volume path ${p}`);
  return n;
}

function keyedFiles(
  kind: "configmap" | "secret",
  name: string | undefined,
  obj: V1ConfigMap | V1Secret | undefined,
  items: V1KeyToPath[] | undefined,
  optional: boolean | undefined,
  defaultMode: number,
): VolumeFile[] {
  if (!obj) {
    if (optional) return [];
    throw new ContainerConfigError(`${kind} "${name}" not found`);
  }
  const values = new Map<string, Buffer>();
  if (kind === "configmap") {
    const cm = obj as V1ConfigMap;
    for (const [k, v] of Object.entries(cm.data ?? {})) values.set(k, Buffer.from(v));
    for (const [k, v] of Object.entries(cm.binaryData ?? {}))
      values.set(k, Buffer.from(v, "base64"));
  } else {
    for (const [k, v] of Object.entries((obj as V1Secret).data ?? {}))
      values.set(k, Buffer.from(v, "base64"));
  }
  const wanted =
    items ?? [...values.keys()].sort().map((key) => ({ key, path: key }) as V1KeyToPath);
  const files: VolumeFile[] = [];
  for (const item of wanted) {
    const content = values.get(item.key);
    if (content === undefined) {
      if (optional) continue;
      throw new ContainerConfigError(`configmap/secret ${name}: no key ${item.key}`);
    }
    files.push({ path: safeRelative(item.path), content, mode: item.mode ?? defaultMode });
  }
  return files;
}

function downwardFiles(
  items: V1DownwardAPIVolumeFile[],
  facts: PodFacts,
  defaultMode: number,
): VolumeFile[] {
  const containers = [
    ...(facts.pod.spec?.initContainers ?? []),
    ...(facts.pod.spec?.containers ?? []),
  ];
  return items.map((item) => {
    let value = "";
    if (item.fieldRef) value = resolveFieldRef(item.fieldRef, facts);
    else if (item.resourceFieldRef) {
      const c = containers.find((x) => x.name === item.resourceFieldRef?.containerName);
      if (!c)
        throw new ContainerConfigError(
          `downwardAPI ${item.path}: no container ${item.resourceFieldRef.containerName}`,
        );
      value = resolveResourceFieldRef(item.resourceFieldRef, c, facts);
    }
    return {
      path: safeRelative(item.path),
      content: Buffer.from(value),
      mode: item.mode ?? defaultMode,
    };
  });
}

/** TokenRequests a volume needs before it can be rendered. */
export function tokenRequests(volume: V1Volume): TokenRequestSpec[] {
  return (volume.projected?.sources ?? []).flatMap((s) =>
    s.serviceAccountToken
      ? [
          {
            id: `${volume.name}/${s.serviceAccountToken.path}`,
            audience: s.serviceAccountToken.audience,
            expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3600,
          },
        ]
      : [],
  );
}

/** Files of a ConfigMap/Secret/downwardAPI/projected volume; undefined for other kinds. */
export function renderVolume(
  volume: V1Volume,
  facts: PodFacts,
  inputs: VolumeInputs,
): VolumeFile[] | undefined {
  const { configMap, secret, downwardAPI, projected } = volume;
  if (configMap) {
    const cm = inputs.configMaps.get(configMap.name ?? "");
    return keyedFiles(
      "configmap",
      configMap.name,
      cm,
      configMap.items,
      configMap.optional,
      configMap.defaultMode ?? DEFAULT_MODE,
    );
  }
  if (secret) {
    const s = inputs.secrets.get(secret.secretName ?? "");
    return keyedFiles(
      "secret",
      secret.secretName,
      s,
      secret.items,
      secret.optional,
      secret.defaultMode ?? DEFAULT_MODE,
    );
  }
  if (downwardAPI)
    return downwardFiles(downwardAPI.items ?? [], facts, downwardAPI.defaultMode ?? DEFAULT_MODE);
  if (!projected) return undefined;
  const mode = projected.defaultMode ?? DEFAULT_MODE;
  return (projected.sources ?? []).flatMap((s): VolumeFile[] => {
    if (s.configMap) {
      const cm = inputs.configMaps.get(s.configMap.name ?? "");
      return keyedFiles(
        "configmap",
        s.configMap.name,
        cm,
        s.configMap.items,
        s.configMap.optional,
        mode,
      );
    }
    if (s.secret) {
      const sec = inputs.secrets.get(s.secret.name ?? "");
      return keyedFiles("secret", s.secret.name, sec, s.secret.items, s.secret.optional, mode);
    }
    if (s.downwardAPI) return downwardFiles(s.downwardAPI.items ?? [], facts, mode);
    if (s.serviceAccountToken) {
      const token = inputs.tokens.get(`${volume.name}/${s.serviceAccountToken.path}`);
      if (token === undefined) throw new ContainerConfigError(`no token for volume ${volume.name}`);
      // Tokens are credentials: never world-readable, whatever defaultMode says.
      return [
        {
          path: safeRelative(s.serviceAccountToken.path),
          content: Buffer.from(token),
          mode: 0o600,
        },
      ];
    }
    throw new ContainerConfigError(`volume ${volume.name}: unsupported projected source`);
  });
}

/** Names of ConfigMaps and Secrets a pod references (env and volumes), to fetch up front. */
export function referencedObjects(
  containers: V1Container[],
  volumes: V1Volume[],
): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const add = (set: Set<string>, name: string | undefined) => name && set.add(name);
  for (const c of containers) {
    for (const f of c.envFrom ?? []) {
      add(configMaps, f.configMapRef?.name);
      add(secrets, f.secretRef?.name);
    }
    for (const e of c.env ?? []) {
      add(configMaps, e.valueFrom?.configMapKeyRef?.name);
      add(secrets, e.valueFrom?.secretKeyRef?.name);
    }
  }
  for (const v of volumes) {
    add(configMaps, v.configMap?.name);
    add(secrets, v.secret?.secretName);
    for (const s of v.projected?.sources ?? []) {
      add(configMaps, s.configMap?.name);
      add(secrets, s.secret?.name);
    }
  }
  return { configMaps, secrets };
}

/** Volume kinds whose content the pod must not change (the kubelet mounts them read-only). */
export function isRenderedVolume(v: V1Volume): boolean {
  return Boolean(v.configMap || v.secret || v.downwardAPI || v.projected);
}

/** Binds of one container: its volumeMounts resolved against the pod's volume hosts. */
export function containerMounts(container: V1Container, hosts: Map<string, VolumeHost>): Mount[] {
  return (container.volumeMounts ?? []).map((m) => {
    const host = hosts.get(m.name);
    if (!host)
      throw new ContainerConfigError(`volumeMount ${m.mountPath}: no volume named ${m.name}`);
    return {
      source: m.subPath ? join(host.path, safeRelative(m.subPath)) : host.path,
      dest: m.mountPath,
      readOnly: host.readOnly || Boolean(m.readOnly),
    };
  });
}
