import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { $ } from "dax-sh";
import { logger } from "../../util/log.js";
import { renderExtensions, subject } from "../certs.js";
import { type ClusterLayout, clusterLayout } from "../layout.js";
import type { NodeLayout } from "./layout.js";

const log = logger("local-node-identity");

/**
 * A local node authenticates like a kubelet: a client certificate `CN=system:node:<name>,
 * O=system:nodes` signed by the cluster CA, so the Node authorizer (and NodeRestriction, where
 * enabled) limit it to its own Node, Lease and the pods bound to it. Only if the cluster CA
 * cannot sign (no key on disk) does it fall back to the admin kubeconfig.
 *
 * Issued with openssl, like the control plane's own certificates: the apiserver (Go) finds
 * a client certificate's CA by the raw bytes of its issuer name, and openssl copies the CA's
 * subject encoding verbatim (@peculiar/x509 re-encodes it, which Go then rejects).
 */

export interface NodeIdentity {
  kubeconfig: KubeConfig;
  kind: "node-certificate" | "admin";
}

export async function nodeIdentity(
  clusterDir: string,
  layout: NodeLayout,
  name: string,
  server: string,
): Promise<NodeIdentity> {
  const cluster = clusterLayout(clusterDir);
  try {
    if (!existsSync(layout.cert) || !existsSync(layout.key)) {
      await issueNodeCertificate(cluster, layout, name);
    }
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "local", server, caData: b64(readFileSync(cluster.pki.caCert, "utf8")) }],
      users: [
        {
          name: `system:node:${name}`,
          certData: b64(readFileSync(layout.cert, "utf8")),
          keyData: b64(readFileSync(layout.key, "utf8")),
        },
      ],
      contexts: [{ name: "local", cluster: "local", user: `system:node:${name}` }],
      currentContext: "local",
    });
    return { kubeconfig: kc, kind: "node-certificate" };
  } catch (err) {
    log.warn({ err, node: name }, "cannot issue a node certificate; using the admin kubeconfig");
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    return { kubeconfig: kc, kind: "admin" };
  }
}

async function issueNodeCertificate(
  cluster: ClusterLayout,
  layout: NodeLayout,
  name: string,
): Promise<void> {
  const spec = { cn: `system:node:${name}`, o: "system:nodes", server: false, client: true };
  mkdirSync(dirname(layout.cert), { recursive: true, mode: 0o700 });
  const csr = `${layout.cert}.csr`;
  const ext = `${layout.cert}.ext`;
  writeFileSync(ext, renderExtensions({ ...spec, name: "node", signer: "ca" }));
  try {
    await $`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ${layout.key} -out ${csr} -subj ${subject(spec)}`.quiet();
    chmodSync(layout.key, 0o600);
    const serial = `0x${randomBytes(16).toString("hex")}`;
    await $`openssl x509 -req -in ${csr} -CA ${cluster.pki.caCert} -CAkey ${cluster.pki.caKey} -set_serial ${serial} -days 825 -extfile ${ext} -out ${layout.cert}`.quiet();
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
}

function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}
