import { createHash } from "node:crypto";

/**
 * Names of the objects the operator creates for a VM. Pod names double as hostnames and
 * label values are capped at 63 characters, while a VM name may be a 253-character DNS
 * subdomain; so long names are cut and made unique again by a hash of the full name.
 */
const MAX_NAME = 63;
const HASH_LEN = 8;

export function shortHash(value: string, length = HASH_LEN): string {
  return createHash("sha256").update(value).digest("hex").slice(0, length);
}

/**
 * `base + suffix` when that is a valid DNS label, else the base cut to fit, its dots made
 * dashes, plus a hash of the full base so that two long (or dotted) names never collide.
 */
export function boundedName(base: string, suffix: string): string {
  const full = `${base}${suffix}`;
  if (full.length <= MAX_NAME && !base.includes(".")) return full;
  const room = MAX_NAME - suffix.length - HASH_LEN - 1;
  const cut = base.slice(0, room).replace(/\./g, "-").replace(/-+$/, "");
  return `${cut}-${shortHash(base)}${suffix}`;
}

/** Value of the LABEL_VM label on everything that belongs to the VM. */
export function vmLabelValue(vmName: string): string {
  return boundedName(vmName, "");
}

/**
 * Launch n of a VM runs in this pod; deterministic so a second create of launch n meets
 * AlreadyExists (the pod found there is never adopted: only a recorded UID makes it ours).
 */
export function launcherPodName(vmName: string, launch: number): string {
  return boundedName(vmName, `-launcher-${launch}`);
}

export function launcherTlsSecretName(vmName: string): string {
  return boundedName(vmName, "-launcher-tls");
}

export function disruptionBudgetName(vmName: string): string {
  return boundedName(vmName, "-launcher");
}

/** Volume names are DNS labels; disk names and image references are not always. */
export function imageVolumeName(reference: string): string {
  return `image-${shortHash(reference, 12)}`;
}

export function diskVolumeName(diskName: string): string {
  return boundedName(`disk-${diskName}`, "");
}

/** The Secret volume of a cloudInitNoCloud disk's user-data or network-data. */
export function cloudInitVolumeName(diskName: string, key: "userdata" | "networkdata"): string {
  return boundedName(`cloudinit-${diskName}`, `-${key}`);
}
