import { SUBRESOURCES_APISERVICE } from "../api/subresources.js";
import { isNotFound, type KubeClient } from "../kube/client.js";
import type { Trust } from "../operator/certs/ca-store.js";
import type { LeafRequest } from "../operator/certs/leaf-keeper.js";
import type { Logger } from "../util/log.js";

/**
 * The server's own TLS identity. The kube-apiserver dials the Service's endpoints and checks
 * the certificate against the APIService's caBundle under the name `<service>.<ns>.svc`.
 * Every replica issues its own serving certificate, in memory, from the operator CA (the
 * CA Secret, certs/ca-store.ts) and renews it like any leaf; the caBundle is the operator
 * CA's trust bundle. The operator's leader is the one writer of the caBundle during a
 * rotation (`publishCaBundle`): a new CA enters it before anything is signed with it, so
 * no replica ever serves a certificate the APIService does not trust.
 */

/** DNS names the kube-apiserver may use for the Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export function servingCertRequest(service: string, namespace: string): LeafRequest {
  const dnsNames = serviceDnsNames(service, namespace);
  return { commonName: dnsNames[2] ?? service, dnsNames, usage: "server" };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const certs = (pem: string): string[] => pem.match(PEM_CERT) ?? [];

/** Pure: `bundle` with every CA of `add` it lacks appended (nothing removed). */
export function mergeBundles(bundle: string, add: string): string {
  const have = certs(bundle);
  const missing = certs(add).filter((c) => !have.includes(c));
  return [...have, ...missing].map((c) => `${c}\n`).join("");
}

/** Pure: whether every CA of `pem` is in `bundle`. */
export function bundleHolds(bundle: string, pem: string): boolean {
  const have = certs(bundle);
  return certs(pem).every((c) => have.includes(c));
}

export const apiServicePath = (name: string) =>
  `/apis/apiregistration.k8s.io/v1/apiservices/${name}`;

type ApiService = { spec?: { caBundle?: string } };
const decode = (b64: string | undefined) => Buffer.from(b64 ?? "", "base64").toString("utf8");

/**
 * At a replica's start: make sure the APIService trusts the CA this replica signs with, by
 * adding (never removing) the bundle's CAs. Removing is the leader's alone. A missing
 * APIService is not an error: the chart may be rendered without it, or a test registers
 * its own later.
 */
export async function ensureCABundle(
  client: KubeClient,
  bundlePem: string,
  log: Logger,
  name: string = SUBRESOURCES_APISERVICE,
): Promise<void> {
  try {
    const current = decode((await client.get<ApiService>(apiServicePath(name))).spec?.caBundle);
    if (bundleHolds(current, bundlePem)) return;
    const caBundle = Buffer.from(mergeBundles(current, bundlePem)).toString("base64");
    await client.mergePatch(apiServicePath(name), { spec: { caBundle } });
    log.info({ apiService: name }, "added the operator CA to the APIService caBundle");
  } catch (err) {
    if (!isNotFound(err)) throw err;
    log.warn({ apiService: name }, "APIService not found; its caBundle was not set");
  }
}

/**
 * The leader's publisher (OperatorOptions.publishTrust): the caBundle becomes exactly the
 * trust bundle (a retired CA leaves it). Answers whether it holds the pending CA, which the
 * rotation waits for before that CA signs anything. No APIService: nothing to wait for.
 */
export function caBundlePublisher(
  client: KubeClient,
  log: Logger,
  name: string = SUBRESOURCES_APISERVICE,
): (t: Trust) => Promise<boolean> {
  return async (t) => {
    let current: string;
    try {
      current = decode((await client.get<ApiService>(apiServicePath(name))).spec?.caBundle);
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
    const want = mergeBundles("", t.bundlePem);
    if (current !== want) {
      await client.mergePatch(apiServicePath(name), {
        spec: { caBundle: Buffer.from(want).toString("base64") },
      });
      log.info({ apiService: name }, "published the CA bundle to the APIService");
    }
    return true;
  };
}
