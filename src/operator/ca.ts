import { LAUNCHER_CLIENT_CN } from "../api/launcher.js";
import type { KubeClient } from "../kube/client.js";
import type { Logger } from "../util/log.js";
import { issueCertificate, type PemPair } from "../util/pki.js";
import { CaStore } from "./certs/ca-store.js";
import { type CertPolicy, DEFAULT_CERT_POLICY } from "./certs/rotation.js";

export { CA_SECRET } from "./certs/ca-secret.js";
/** Launchers admit only this CN (LAUNCHER_CLIENT_CN), so it is defined in the contract. */
export const OPERATOR_CLIENT_NAME = LAUNCHER_CLIENT_CN;

/**
 * The operator CA's signing pair as it is now, creating the CA Secret when missing (see
 * certs/ca-store.ts for the rotation; components that live long hold a CaStore instead).
 */
export async function ensureOperatorCA(
  client: KubeClient,
  namespace: string,
  log: Logger,
  policy: CertPolicy = DEFAULT_CERT_POLICY,
): Promise<PemPair> {
  const store = await CaStore.open(client, namespace, policy, log);
  const { certPem, keyPem } = store.trust().signing;
  return { certPem, keyPem };
}

/** A client certificate `CN=kubevisor-operator` (tests; running components use ClientIdentity). */
export function issueOperatorClientCert(
  ca: PemPair,
  validForMs = DEFAULT_CERT_POLICY.leafLifetimeMs,
): Promise<PemPair> {
  return issueCertificate(ca, { commonName: OPERATOR_CLIENT_NAME, usage: "client", validForMs });
}
