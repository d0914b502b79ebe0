import { X509Certificate } from "node:crypto";
import { SUBRESOURCES_APISERVICE } from "../api/subresources.js";
import { isConflict, isNotFound, type KubeClient, paths } from "../kube/client.js";
import type { Logger } from "../util/log.js";
import { createCA, issueCertificate } from "../util/pki.js";

/**
 * The server's own TLS identity. The kube-apiserver dials the Service's endpoints and checks
 * the certificate against the APIService's caBundle under the name `<service>.<ns>.svc`. The
 * chart cannot know a CA at render time without shipping a private key in values, so the
 * first replica to start makes a CA and a serving certificate, keeps both in a Secret (every
 * replica serves the same one), and writes the CA into the APIService's caBundle.
 */
export interface ServingCert {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Renew when less than this much validity is left. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** DNS names the kube-apiserver may use for the Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/** Pure: whether a stored certificate still serves these names for a while, from this CA. */
export function usable(stored: ServingCert, dnsNames: string[], now: Date): boolean {
  try {
    const cert = new X509Certificate(stored.certPem);
    const ca = new X509Certificate(stored.caPem);
    return (
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      dnsNames.every((n) => cert.checkHost(n) === n) &&
      new Date(cert.validTo).getTime() - now.getTime() > RENEW_BEFORE_MS
    );
  } catch {
    return false;
  }
}

interface SecretData {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

function decode(secret: SecretData): ServingCert | undefined {
  const d = secret.data ?? {};
  const get = (k: string) => (d[k] ? Buffer.from(d[k], "base64").toString("utf8") : undefined);
  const caPem = get("ca.crt");
  const certPem = get("tls.crt");
  const keyPem = get("tls.key");
  return caPem && certPem && keyPem ? { caPem, certPem, keyPem } : undefined;
}

async function issue(dnsNames: string[]): Promise<ServingCert> {
  const ca = await createCA("kubevisor-apiserver-ca");
  const serving = await issueCertificate(ca, {
    commonName: dnsNames[2] ?? dnsNames[0] ?? "kubevisor-apiserver",
    dnsNames,
    usage: "server",
    days: 365,
  });
  return { caPem: ca.certPem, ...serving };
}

export async function ensureServingCert(
  client: KubeClient,
  o: { namespace: string; secretName: string; service: string; log: Logger },
): Promise<ServingCert> {
  const dnsNames = serviceDnsNames(o.service, o.namespace);
  const path = paths.secret(o.namespace, o.secretName);
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await client.get<SecretData>(path).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    const stored = existing && decode(existing);
    if (stored && usable(stored, dnsNames, new Date())) return stored;
    const fresh = await issue(dnsNames);
    const stringData = { "ca.crt": fresh.caPem, "tls.crt": fresh.certPem, "tls.key": fresh.keyPem };
    try {
      if (existing) {
        // The resourceVersion makes a racing replica's replacement win over ours, not both.
        await client.request("PUT", path, {
          body: {
            apiVersion: "v1",
            kind: "Secret",
            type: "kubernetes.io/tls",
            metadata: {
              name: o.secretName,
              namespace: o.namespace,
              resourceVersion: existing.metadata?.resourceVersion,
            },
            stringData,
          },
        });
        o.log.info({ secret: o.secretName }, "renewed the API server's serving certificate");
      } else {
        await client.create(paths.secrets(o.namespace), {
          apiVersion: "v1",
          kind: "Secret",
          type: "kubernetes.io/tls",
          metadata: { name: o.secretName, namespace: o.namespace },
          stringData,
        });
        o.log.info({ secret: o.secretName }, "created the API server's serving certificate");
      }
      return fresh;
    } catch (err) {
      // Another replica wrote first (AlreadyExists, or a stale resourceVersion): use its.
      if (!isConflict(err)) throw err;
    }
  }
  throw new Error(`could not settle secret ${o.namespace}/${o.secretName} after 5 attempts`);
}

const apiServicePath = (name: string) => `/apis/apiregistration.k8s.io/v1/apiservices/${name}`;

/**
 * Point the APIService's caBundle at our CA, unless it already is. A missing APIService is
 * not an error: the chart may be rendered without it, or a test registers its own later.
 */
export async function ensureCABundle(
  client: KubeClient,
  caPem: string,
  log: Logger,
  name: string = SUBRESOURCES_APISERVICE,
): Promise<void> {
  const caBundle = Buffer.from(caPem).toString("base64");
  try {
    const current = await client.get<{ spec?: { caBundle?: string } }>(apiServicePath(name));
    if (current.spec?.caBundle === caBundle) return;
    await client.mergePatch(apiServicePath(name), { spec: { caBundle } });
    log.info({ apiService: name }, "set the APIService caBundle");
  } catch (err) {
    if (!isNotFound(err)) throw err;
    log.warn({ apiService: name }, "APIService not found; its caBundle was not set");
  }
}
