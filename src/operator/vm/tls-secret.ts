import type { V1Secret } from "@kubernetes/client-node";
import { LABEL_COMPONENT, launcherServerName, type VirtualMachine } from "../../api/index.js";
import { signedBy } from "../certs/leaf-keeper.js";
import { type CertPolicy, leafDue, validityOf } from "../certs/rotation.js";
import { vmLabels, vmOwnerReference } from "./launcher-pod.js";
import { launcherTlsSecretName } from "./naming.js";

export const COMPONENT_TLS = "launcher-tls";

/** The certificate request for a VM's launcher: one DNS name, since pod IPs come later. */
export function launcherCertificateRequest(vm: VirtualMachine) {
  const serverName = launcherServerName(vm.metadata.namespace ?? "", vm.metadata.name ?? "");
  return { commonName: serverName, dnsNames: [serverName], usage: "server" as const };
}

/**
 * The Secret a launcher pod mounts at LAUNCHER_TLS_DIR: its serving certificate and key,
 * and ca.crt, the operator CA bundle it checks client certificates against (during a CA
 * rotation: the old and the new CA). Owned by the VM, so it goes when the VM goes; one per
 * VM, shared by every launch and migration target, rewritten in place on renewal.
 */
export function buildLauncherTlsSecret(
  vm: VirtualMachine,
  serving: { certPem: string; keyPem: string },
  bundlePem: string,
): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: launcherTlsSecretName(vm.metadata.name ?? ""),
      namespace: vm.metadata.namespace,
      labels: vmLabels(vm, COMPONENT_TLS),
      ownerReferences: [vmOwnerReference(vm)],
    },
    stringData: { "tls.crt": serving.certPem, "tls.key": serving.keyPem, "ca.crt": bundlePem },
  };
}

/** What the launcher TLS Secret must match: today's signing CA, bundle and lifetimes. */
export interface LauncherTrust {
  signingPem: string;
  bundlePem: string;
  policy: CertPolicy;
  now: number;
}

/**
 * What to do with the Secret found under a VM's launcher TLS name. `current`: made by the
 * operator for this VM, with today's bundle, a serving certificate from today's signing CA
 * that is not yet due — use it. `replace`: made by the operator (for this VM, or an earlier
 * VM of the same name whose garbage collection is pending) but stale or due — overwrite it.
 * `foreign`: anything else — someone else's Secret; never overwritten (it may hold their
 * data) and never mounted (its keys are not ours).
 */
export function tlsSecretVerdict(
  secret: V1Secret,
  vm: VirtualMachine,
  trust: LauncherTrust,
): "current" | "replace" | "foreign" {
  const meta = secret.metadata ?? {};
  const owner = meta.ownerReferences?.find((o) => o.controller && o.kind === "VirtualMachine");
  const ours =
    meta.labels?.[LABEL_COMPONENT] === COMPONENT_TLS &&
    owner !== undefined &&
    owner.name === vm.metadata.name;
  if (!ours) return "foreign";
  const text = (k: string) => {
    const v = secret.data?.[k];
    return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
  const cert = text("tls.crt");
  const fresh = cert !== undefined && leafFresh(cert, trust);
  return owner.uid === vm.metadata.uid && text("ca.crt") === trust.bundlePem && fresh
    ? "current"
    : "replace";
}

function leafFresh(certPem: string, t: LauncherTrust): boolean {
  try {
    const leaf = { ...validityOf(certPem), signedBySigningCa: signedBy(certPem, t.signingPem) };
    return !leafDue(leaf, t.now, t.policy);
  } catch {
    return false;
  }
}
