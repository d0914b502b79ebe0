import type { V1Secret } from "@kubernetes/client-node";
import type { VirtualMachine } from "../../api/index.js";
import { isAlreadyExists, isNotFound, type KubeClient, paths } from "../../kube/client.js";
import { issueCertificate, type PemPair } from "../../util/pki.js";
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
 * watches Secrets). Returns why it cannot be used when its name is taken by a Secret the
 * operator did not make; that one is left alone.
 */
export async function ensureTlsSecret(
  client: KubeClient,
  ca: PemPair,
  vm: VirtualMachine,
  fence: () => void,
): Promise<string | undefined> {
  const ns = vm.metadata.namespace ?? "";
  const name = launcherTlsSecretName(vm.metadata.name ?? "");
  const existing = await client.get<V1Secret>(paths.secret(ns, name)).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  const verdict = existing ? tlsSecretVerdict(existing, vm, ca.certPem) : "missing";
  if (verdict === "current") return undefined;
  if (verdict === "foreign") {
    return `Secret ${name} exists but was not created by the operator for this VM; it is neither used nor overwritten: delete or rename it`;
  }
  const serving = await issueCertificate(ca, launcherCertificateRequest(vm));
  const secret = buildLauncherTlsSecret(vm, serving, ca.certPem);
  fence();
  if (!existing) {
    await client.create(paths.secrets(ns), secret).catch((err) => {
      // Someone was quicker; the next pass judges what is there.
      if (!isAlreadyExists(err)) throw err;
    });
    return undefined;
  }
  // Ours but stale (another CA, an earlier VM of the same name): replace it, guarded by
  // its resourceVersion so a Secret changed meanwhile is judged again, not overwritten.
  await client.request("PUT", paths.secret(ns, name), {
    body: {
      ...secret,
      metadata: { ...secret.metadata, resourceVersion: existing.metadata?.resourceVersion },
    },
  });
  return undefined;
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
