import type { V1ConfigMap, V1Container, V1Secret } from "@kubernetes/client-node";
import { type PodFacts, resolveFieldRef, resolveResourceFieldRef } from "./fieldpath.js";

/**
 * A container's environment, resolved like the kubelet does. Pure: the ConfigMaps and
 * Secrets it may reference are looked up beforehand and passed in.
 */

export interface Lookups {
  /** By name in the pod's namespace; undefined = does not exist. */
  configMaps: Map<string, V1ConfigMap | undefined>;
  secrets: Map<string, V1Secret | undefined>;
}

/** A reference the container needs but that does not resolve (kubelet: CreateContainerConfigError). */
export class ContainerConfigError extends Error {
  override name = "ContainerConfigError";
}

/**
 * `$(VAR)` expansion of Kubernetes (k8s.io/kubernetes/third_party/forked/golang/expansion):
 * defined names are replaced, undefined ones kept verbatim, `$$` escapes a `$`.
 */
export function expand(input: string, vars: Map<string, string>): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += vars.get(name) ?? `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

function configMapValue(cm: V1ConfigMap, key: string): string | undefined {
  return (
    cm.data?.[key] ??
    (cm.binaryData?.[key] !== undefined
      ? Buffer.from(cm.binaryData[key], "base64").toString()
      : undefined)
  );
}

function secretValue(s: V1Secret, key: string): string | undefined {
  const v = s.data?.[key];
  return v === undefined ? s.stringData?.[key] : Buffer.from(v, "base64").toString();
}

function lookupKey<T>(
  kind: "configmap" | "secret",
  objects: Map<string, T | undefined>,
  ref: { name?: string; key: string; optional?: boolean },
  get: (o: T, key: string) => string | undefined,
): string | undefined {
  const obj = objects.get(ref.name ?? "");
  if (obj === undefined) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(`${kind} "${ref.name}" not found`);
  }
  const v = get(obj, ref.key);
  if (v === undefined && !ref.optional) {
    throw new ContainerConfigError(`couldn't find key ${ref.key} in ${kind} ${ref.name}`);
  }
  return v;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * The final environment, in kubelet order: `base` (service variables), then `envFrom`, then
 * `env`; later entries override earlier ones and `$(VAR)` sees everything defined before it.
 */
export function resolveEnv(
  container: V1Container,
  facts: PodFacts,
  lookups: Lookups,
  base: Record<string, string>,
): Map<string, string> {
  const vars = new Map(Object.entries(base));
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    let entries: [string, string][] = [];
    if (from.configMapRef) {
      const cm = lookups.configMaps.get(from.configMapRef.name ?? "");
      if (!cm && !from.configMapRef.optional) {
        throw new ContainerConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      entries = Object.keys({ ...cm?.data, ...cm?.binaryData }).map((k) => [
        k,
        configMapValue(cm as V1ConfigMap, k) ?? "",
      ]);
    } else if (from.secretRef) {
      const s = lookups.secrets.get(from.secretRef.name ?? "");
      if (!s && !from.secretRef.optional) {
        throw new ContainerConfigError(`secret "${from.secretRef.name}" not found`);
      }
      entries = Object.keys(s?.data ?? {}).map((k) => [k, secretValue(s as V1Secret, k) ?? ""]);
    }
    for (const [k, v] of entries) if (ENV_NAME.test(prefix + k)) vars.set(prefix + k, v);
  }
  for (const e of container.env ?? []) {
    const from = e.valueFrom;
    let value: string | undefined;
    if (!from) value = expand(e.value ?? "", vars);
    else if (from.fieldRef) value = resolveFieldRef(from.fieldRef, facts);
    else if (from.resourceFieldRef) {
      const target = from.resourceFieldRef.containerName;
      const all = [
        ...(facts.pod.spec?.initContainers ?? []),
        ...(facts.pod.spec?.containers ?? []),
      ];
      const c = target ? all.find((x) => x.name === target) : container;
      if (!c) throw new ContainerConfigError(`resourceFieldRef: no container ${target}`);
      value = resolveResourceFieldRef(from.resourceFieldRef, c, facts);
    } else if (from.configMapKeyRef) {
      value = lookupKey("configmap", lookups.configMaps, from.configMapKeyRef, configMapValue);
    } else if (from.secretKeyRef) {
      value = lookupKey("secret", lookups.secrets, from.secretKeyRef, secretValue);
    }
    if (value !== undefined) vars.set(e.name, value);
  }
  return vars;
}

/**
 * Command line of a container: `command` replaces the image's entrypoint and our images have
 * none, so `command` is required; `args` follow. Both see `$(VAR)` expansion.
 */
export function resolveArgv(
  container: V1Container,
  image: string,
  env: Map<string, string>,
): string[] {
  if (!container.command || container.command.length === 0) {
    throw new ContainerConfigError(
      `container ${container.name} has no command, and image ${image} has no entrypoint: set spec.containers[].command`,
    );
  }
  return [...container.command, ...(container.args ?? [])].map((a) => expand(a, env));
}
