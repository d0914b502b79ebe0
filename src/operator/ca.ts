import { LAUNCHER_CLIENT_CN } from "../api/launcher.js";
import { isAlreadyExists, isNotFound, type KubeClient, paths } from "../kube/client.js";
import type { Logger } from "../util/log.js";
import { createCA, issueCertificate, type PemPair } from "../util/pki.js";

export const CA_SECRET = "kubevisor-ca";
const CA_COMMON_NAME = "kubevisor-ca";
/** Launchers admit only this CN (LAUNCHER_CLIENT_CN), so it is defined in the contract. */
export const OPERATOR_CLIENT_NAME = LAUNCHER_CLIENT_CN;

interface SecretData {
  data?: Record<string, string>;
}

/**
 * The operator CA, kept in a Secret in the operator's namespace: launchers trust it for
 * client certificates and the operator signs their serving certificates with it. Created by
 * whichever replica gets there first; the others read the winner's.
 */
export async function ensureOperatorCA(
  client: KubeClient,
  namespace: string,
  log: Logger,
): Promise<PemPair> {
  const existing = await readCA(client, namespace);
  if (existing) return existing;
  const ca = await createCA(CA_COMMON_NAME);
  try {
    await client.create(paths.secrets(namespace), {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: { name: CA_SECRET, namespace },
      stringData: { "tls.crt": ca.certPem, "tls.key": ca.keyPem },
    });
    log.info({ namespace, secret: CA_SECRET }, "created the operator CA");
    return ca;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const winner = await readCA(client, namespace);
    if (!winner) throw new Error(`secret ${namespace}/${CA_SECRET} vanished right after creation`);
    return winner;
  }
}

async function readCA(client: KubeClient, namespace: string): Promise<PemPair | undefined> {
  try {
    const secret = await client.get<SecretData>(paths.secret(namespace, CA_SECRET));
    const cert = secret.data?.["tls.crt"];
    const key = secret.data?.["tls.key"];
    if (!cert || !key) throw new Error(`secret ${namespace}/${CA_SECRET} lacks tls.crt or tls.key`);
    return {
      certPem: Buffer.from(cert, "base64").toString("utf8"),
      keyPem: Buffer.from(key, "base64").toString("utf8"),
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The certificate the operator presents to launchers; fresh for each operator start. */
export function issueOperatorClientCert(ca: PemPair): Promise<PemPair> {
  return issueCertificate(ca, { commonName: OPERATOR_CLIENT_NAME, usage: "client", days: 365 });
}
