import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { $ } from "dax-sh";
import { logger } from "../util/log.js";
import type { ClusterLayout } from "./layout.js";

const log = logger("local-pki");

/** Cluster-internal address of the `kubernetes` Service: first IP of the service range. */
export const SERVICE_RANGE = "10.96.0.0/16";
export const KUBERNETES_SERVICE_IP = "10.96.0.1";

export type Signer = "ca" | "front-proxy-ca";

export interface CertSpec {
  /** File stem under pki/. */
  name: string;
  cn: string;
  /** Organisation = Kubernetes group of a client certificate. */
  o?: string;
  signer: Signer;
  server: boolean;
  client: boolean;
  dns?: string[];
  ips?: string[];
}

const LOOPBACK_SANS = { dns: ["localhost"], ips: ["127.0.0.1"] };

/**
 * The leaf certificates of a local cluster. The controller-manager and the scheduler each use
 * one certificate both to serve their /healthz (so we can verify it with our CA) and as their
 * client identity, which RBAC's bootstrap roles know by these exact names.
 */
export function certificateSpecs(apiserverIps: readonly string[] = []): CertSpec[] {
  return [
    {
      name: "apiserver",
      cn: "kube-apiserver",
      signer: "ca",
      server: true,
      client: false,
      dns: [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      ips: ["127.0.0.1", KUBERNETES_SERVICE_IP, ...apiserverIps],
    },
    // The apiserver's identity towards kubelets (logs, exec, port-forward); kubelets
    // authorize it through the apiserver (webhook), and system:masters may do all of it.
    {
      name: "apiserver-kubelet-client",
      cn: "kube-apiserver-kubelet-client",
      o: "system:masters",
      signer: "ca",
      server: false,
      client: true,
    },
    {
      name: "admin",
      cn: "kubevisor-admin",
      o: "system:masters",
      signer: "ca",
      server: false,
      client: true,
    },
    {
      name: "kube-controller-manager",
      cn: "system:kube-controller-manager",
      signer: "ca",
      server: true,
      client: true,
      ...LOOPBACK_SANS,
    },
    {
      name: "kube-scheduler",
      cn: "system:kube-scheduler",
      signer: "ca",
      server: true,
      client: true,
      ...LOOPBACK_SANS,
    },
    // The apiserver presents this to aggregated API servers, which trust the front-proxy CA
    // (not the cluster CA) for the X-Remote-* headers it sends.
    {
      name: "front-proxy-client",
      cn: "front-proxy-client",
      signer: "front-proxy-ca",
      server: false,
      client: true,
    },
  ];
}

/** openssl x509 `-extfile` content for a leaf certificate. */
export function renderExtensions(spec: CertSpec): string {
  const usages = [spec.server && "serverAuth", spec.client && "clientAuth"].filter(Boolean);
  const lines = [
    "basicConstraints = critical, CA:FALSE",
    "keyUsage = critical, digitalSignature, keyEncipherment",
    `extendedKeyUsage = ${usages.join(", ")}`,
  ];
  const sans = [
    ...(spec.dns ?? []).map((d) => `DNS:${d}`),
    ...(spec.ips ?? []).map((i) => `IP:${i}`),
  ];
  if (sans.length > 0) lines.push(`subjectAltName = ${sans.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

function specText(spec: CertSpec): string {
  return `${subject(spec)}\n${renderExtensions(spec)}`;
}

export function subject(spec: Pick<CertSpec, "cn" | "o">): string {
  return `${spec.o ? `/O=${spec.o}` : ""}/CN=${spec.cn}`;
}

// P-256 keys: generated in milliseconds (RSA takes noticeably longer per cert) and accepted
// by every component.
const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const CA_DAYS = "3650";
const LEAF_DAYS = "825";

async function makeCa(certPath: string, keyPath: string, cn: string): Promise<void> {
  await $`openssl req -x509 ${KEY_ARGS} -keyout ${keyPath} -out ${certPath} -days ${CA_DAYS} -subj ${`/CN=${cn}`} -addext ${"basicConstraints=critical,CA:TRUE"} -addext ${"keyUsage=critical,keyCertSign,cRLSign,digitalSignature"}`.quiet();
}

async function makeLeaf(layout: ClusterLayout, spec: CertSpec): Promise<void> {
  const { pki } = layout;
  const [caCert, caKey] =
    spec.signer === "ca" ? [pki.caCert, pki.caKey] : [pki.frontProxyCaCert, pki.frontProxyCaKey];
  const csr = `${pki.cert(spec.name)}.csr`;
  const ext = `${pki.cert(spec.name)}.ext`;
  writeFileSync(ext, renderExtensions(spec));
  try {
    await $`openssl req -new ${KEY_ARGS} -keyout ${pki.key(spec.name)} -out ${csr} -subj ${subject(spec)}`.quiet();
    const serial = `0x${randomBytes(16).toString("hex")}`;
    await $`openssl x509 -req -in ${csr} -CA ${caCert} -CAkey ${caKey} -set_serial ${serial} -days ${LEAF_DAYS} -extfile ${ext} -out ${pki.cert(spec.name)}`.quiet();
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
}

/**
 * Creates whatever part of the PKI is missing. A new CA invalidates everything it signed, so
 * its leaves are then re-issued too. Private keys are written 0600.
 */
export async function ensurePki(
  layout: ClusterLayout,
  opts: { apiserverIps?: readonly string[]; extra?: readonly CertSpec[] } = {},
): Promise<void> {
  const { pki } = layout;
  mkdirSync(pki.dir, { recursive: true, mode: 0o700 });
  const fresh = new Set<Signer>();
  if (!existsSync(pki.caCert) || !existsSync(pki.caKey)) {
    await makeCa(pki.caCert, pki.caKey, "kubevisor-ca");
    fresh.add("ca");
  }
  if (!existsSync(pki.frontProxyCaCert) || !existsSync(pki.frontProxyCaKey)) {
    await makeCa(pki.frontProxyCaCert, pki.frontProxyCaKey, "kubevisor-front-proxy-ca");
    fresh.add("front-proxy-ca");
  }
  // A leaf is re-issued when what it says changed (e.g. the apiserver gained an address):
  // the rendered extensions are kept beside it and compared.
  const changed = (s: CertSpec) => {
    try {
      return readFileSync(`${pki.cert(s.name)}.spec`, "utf8") !== specText(s);
    } catch {
      return true;
    }
  };
  const leaves = [...certificateSpecs(opts.apiserverIps), ...(opts.extra ?? [])].filter(
    (s) =>
      fresh.has(s.signer) ||
      !existsSync(pki.cert(s.name)) ||
      !existsSync(pki.key(s.name)) ||
      changed(s),
  );
  await Promise.all(leaves.map((s) => makeLeaf(layout, s)));
  for (const s of leaves) writeFileSync(`${pki.cert(s.name)}.spec`, specText(s));
  if (!existsSync(pki.serviceAccountKey) || !existsSync(pki.serviceAccountPub)) {
    // Signs service-account tokens; only the apiserver and the controller-manager read it.
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(pki.serviceAccountKey, privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
    });
    writeFileSync(pki.serviceAccountPub, publicKey.export({ type: "spki", format: "pem" }));
  }
  if (fresh.size > 0 || leaves.length > 0) {
    log.info({ cas: [...fresh], leaves: leaves.map((l) => l.name) }, "issued certificates");
  }
}

export function readPem(path: string): string {
  return readFileSync(path, "utf8");
}
