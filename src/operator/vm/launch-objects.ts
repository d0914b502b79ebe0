import type { V1Secret } from "@kubernetes/client-node";
import type { VirtualMachine } from "../../api/index.js";
import { isAlreadyExists, isNotFound, type KubeClient, paths } from "../../kube/client.js";
import { issueCertificate } from "../../util/pki.js";
import type { Trust } from "../certs/ca-store.js";
import { type CertPolicy, leafLifetimeMs, leafRenewAt, validityOf } from "../certs/rotation.js";
import { launcherTlsSecretName } from "./naming.js";
import { buildNetworkPolicy } from "./network-policy.js";
import {
  buildLauncherTlsSecret,
  launcherCertificateRequest,
  tlsSecretVerdict,
} from "./tls-secret.js";

/**
 * The objects a launch needs besides its pod, made right before it is claimed. `fence`
 * throws when this replica may no longer write (lost the lease).
 */

/**
 * The launcher TLS Secret, read and written by name only (the operator neither lists nor
 * watches Secrets): made before a launch, and re-issued in place while the VM runs when
 * its serving certificate is due or the CA bundle changed (the kubelet then updates the
 * mounted files, the launcher reloads them). Returns why it cannot be used when its name
 * is taken by a Secret the operator did not make; that one is left alone.
 */
export async function ensureTlsSecret(
  client: KubeClient,
  trust: Trust,
  policy: CertPolicy,
  vm: VirtualMachine,
  fence: () => void,
): Promise<{ conflict?: string; dueAt?: number }> {
  const ns = vm.metadata.namespace ?? "";
  const name = launcherTlsSecretName(vm.metadata.name ?? "");
  const existing = await client.get<V1Secret>(paths.secret(ns, name)).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  const now = Date.now();
  const verdict = existing
    ? tlsSecretVerdict(existing, vm, {
        signingPem: trust.signing.certPem,
        bundlePem: trust.bundlePem,
        policy,
        now,
      })
    : "missing";
  if (verdict === "current") return { dueAt: dueAt(existing, policy) };
  if (verdict === "foreign") {
    const conflict = `Secret ${name} exists but was not created by the operator for this VM; it is neither used nor overwritten: delete or rename it`;
    return { conflict };
  }
  const serving = await issueCertificate(trust.signing, {
    ...launcherCertificateRequest(vm),
    validForMs: leafLifetimeMs(trust.signing, now, policy),
  });
  const secret = buildLauncherTlsSecret(vm, serving, trust.bundlePem);
  fence();
  if (!existing) {
    await client.create(paths.secrets(ns), secret).catch((err) => {
      // Someone was quicker; the next pass judges what is there.
      if (!isAlreadyExists(err)) throw err;
    });
    return { dueAt: leafRenewAt(validityOf(serving.certPem), policy) };
  }
  // Ours but stale (another CA, an earlier VM of the same name): replace it, guarded by
  // its resourceVersion so a Secret changed meanwhile is judged again, not overwritten.
  await client.request("PUT", paths.secret(ns, name), {
    body: {
      ...secret,
      metadata: { ...secret.metadata, resourceVersion: existing.metadata?.resourceVersion },
    },
  });
  return { dueAt: leafRenewAt(validityOf(serving.certPem), policy) };
}

function dueAt(secret: V1Secret | undefined, policy: CertPolicy): number | undefined {
  const cert = secret?.data?.["tls.crt"];
  if (!cert) return undefined;
  return leafRenewAt(validityOf(Buffer.from(cert, "base64").toString("utf8")), policy);
}

/** Created before each launch, never updated: one the tenant made first is left alone. */
export async function ensureNetworkPolicy(
  client: KubeClient,
  vm: VirtualMachine,
  operatorNamespace: string,
  fence: () => void,
): Promise<void> {
  fence();
  await client
    .create(
      paths.networkPolicies(vm.metadata.namespace ?? ""),
      buildNetworkPolicy(vm, operatorNamespace),
    )
    .catch((err) => {
      if (!isAlreadyExists(err)) throw err;
    });
}
