import { X509Certificate } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { GROUP, LABEL_COMPONENT } from "../../api/index.js";
import { bundlePem, type CaState, validityOf } from "./rotation.js";

/**
 * The CA Secret's layout (pure codec). `tls.crt`/`tls.key`: the signing CA; `ca.crt`: the
 * trust bundle (every CA a peer must accept); `pending.crt`/`pending.key`: a CA in the
 * bundles that does not sign yet; the times of the rotation as annotations.
 */
export const CA_SECRET = "kubevisor-ca";
export const CA_COMMON_NAME = "kubevisor-ca";
export const COMPONENT_CA = "ca";
export const ANNOTATION_PENDING_SINCE = `${GROUP}/ca-pending-since`;
export const ANNOTATION_RETIRING_UNTIL = `${GROUP}/ca-retiring-until`;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

function field(secret: V1Secret, key: string): string | undefined {
  const v = secret.data?.[key];
  return v ? Buffer.from(v, "base64").toString("utf8") : undefined;
}

/**
 * Whether the operator made (and so may rotate) this CA Secret: our component label, or —
 * a Secret written before rotation existed — a CA under our own common name. Anything
 * else is someone's own CA: used as it is, never rewritten.
 */
export function caSecretIsOurs(secret: V1Secret): boolean {
  if (secret.metadata?.labels?.[LABEL_COMPONENT] === COMPONENT_CA) return true;
  const cert = field(secret, "tls.crt");
  try {
    return cert !== undefined && new X509Certificate(cert).subject === `CN=${CA_COMMON_NAME}`;
  } catch {
    return false;
  }
}

/** Pure: Secret → state. Throws naming the key when the Secret cannot be a CA. */
export function decodeCaSecret(secret: V1Secret): CaState {
  const where = `secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
  const certPem = field(secret, "tls.crt");
  const keyPem = field(secret, "tls.key");
  if (!certPem || !keyPem) throw new Error(`${where} lacks tls.crt or tls.key`);
  const state: CaState = { signing: { certPem, keyPem, ...validityOf(certPem) } };
  const ann = secret.metadata?.annotations ?? {};
  const pendingCert = field(secret, "pending.crt");
  const pendingKey = field(secret, "pending.key");
  const since = Date.parse(ann[ANNOTATION_PENDING_SINCE] ?? "");
  if (pendingCert && pendingKey && Number.isFinite(since)) {
    state.pending = {
      certPem: pendingCert,
      keyPem: pendingKey,
      ...validityOf(pendingCert),
      since,
    };
  }
  const until = Date.parse(ann[ANNOTATION_RETIRING_UNTIL] ?? "");
  const bundle = field(secret, "ca.crt")?.match(PEM_CERT) ?? [];
  const others = bundle
    .map((pem) => pem.trim())
    .filter((pem) => pem !== certPem.trim() && pem !== pendingCert?.trim());
  if (others.length > 0) {
    // A bundle CA without a recorded end is kept a full leaf lifetime from now by the
    // caller's policy; here it is simply still trusted.
    state.retiring = {
      certPems: others.map((pem) => `${pem}\n`),
      until: Number.isFinite(until) ? until : 0,
    };
  }
  return state;
}

/** Pure: state → the Secret to write (PUT with `resourceVersion` guards the race). */
export function encodeCaSecret(
  state: CaState,
  namespace: string,
  resourceVersion?: string,
): V1Secret {
  const annotations: Record<string, string> = {};
  if (state.pending)
    annotations[ANNOTATION_PENDING_SINCE] = new Date(state.pending.since).toISOString();
  if (state.retiring)
    annotations[ANNOTATION_RETIRING_UNTIL] = new Date(state.retiring.until).toISOString();
  const stringData: Record<string, string> = {
    "tls.crt": state.signing.certPem,
    "tls.key": state.signing.keyPem,
    "ca.crt": bundlePem(state),
  };
  if (state.pending) {
    stringData["pending.crt"] = state.pending.certPem;
    stringData["pending.key"] = state.pending.keyPem;
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: CA_SECRET,
      namespace,
      labels: { [LABEL_COMPONENT]: COMPONENT_CA },
      annotations,
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    stringData,
  };
}
