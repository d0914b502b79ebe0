/**
 * Certificate rotation with seconds-long certificates, on a real control plane: the operator
 * re-issues the launcher's serving certificate and its own client certificate before they
 * expire and rotates its CA with an overlap, while a launcher that reads its Secret the way
 * a kubelet-mounted volume delivers it (files rewritten in place, re-read by the launcher's
 * own `watchTls`) keeps answering. Attacker cases: a client certificate of the old CA once
 * the overlap ended, and an expired one, are refused by that launcher.
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import type { V1Secret } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHER_CLIENT_CN, launcherServerName } from "../../../src/api/index.js";
import { caBundlePublisher } from "../../../src/apiserver/serving-cert.js";
import { paths } from "../../../src/kube/client.js";
import { readTlsFiles, SECURE_CONTEXT, watchTls } from "../../../src/launcher/api/tls-reload.js";
import { CA_SECRET } from "../../../src/operator/certs/ca-secret.js";
import { signedBy } from "../../../src/operator/certs/leaf-keeper.js";
import type { RunningOperator } from "../../../src/operator/operator.js";
import { startOperator } from "../../../src/operator/operator.js";
import { launcherTlsSecretName } from "../../../src/operator/vm/naming.js";
import { logger } from "../../../src/util/log.js";
import { createCA, issueCertificate, type PemPair } from "../../../src/util/pki.js";
import {
  client,
  createVm,
  ensureNamespace,
  expectNoDuplicates,
  FAST,
  FakeKubelet,
  FakeNode,
  getVm,
  kubeConfig,
  launcherPods,
  until,
  vmPath,
} from "./harness.js";

const S = 1000;
/**
 * CA 75 s: a new CA joins the bundles at 50 s, signs at 53 s; the old one leaves the bundles
 * at ~65 s, 10 s before it expires (so a refusal after that is the drop, not the date).
 */
const CERTS = { caLifetimeMs: 75 * S, leafLifetimeMs: 9 * S, propagationMs: 3 * S };
const NS = "op-rotation";
const OPERATOR_NS = "op-rotation-system";
const VM = "rot";
const POD_IP = "127.0.0.240";
const API_SERVICE = "v1.rotation-test.kubevisor.io";

const c = client();
const log = logger("rotation-test");
const b64 = (v: string | undefined) => Buffer.from(v ?? "", "base64").toString("utf8");
const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const certsOf = (bundle: string): string[] => bundle.match(PEM) ?? [];

/**
 * The launcher's side as it runs in a pod: the TLS Secret's keys as files, rewritten whole
 * (atomically, by rename, as the kubelet swaps `..data`) when the Secret changes; the real
 * reload code re-reads them. Client certificates are checked against ca.crt and the CN.
 */
class SecretMountedLauncher {
  readonly dir = mkdtempSync(join(tmpdir(), "kv-rotation-"));
  server: Server | undefined;
  port = 0;
  /** Every request that completed: when, and the client certificate presented. */
  readonly served: { at: number; certPem: string }[] = [];
  private stopWatch: (() => void) | undefined;
  private sync: NodeJS.Timeout | undefined;
  private lastVersion = "";

  async start(placeholder: PemPair & { caPem: string }) {
    this.write({
      "tls.crt": placeholder.certPem,
      "tls.key": placeholder.keyPem,
      "ca.crt": placeholder.caPem,
    });
    const initial = await readTlsFiles(this.dir);
    const server = createServer(
      { ...initial, ...SECURE_CONTEXT, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate(true);
        if (peer.subject?.CN !== LAUNCHER_CLIENT_CN) {
          res.writeHead(403);
          res.end();
          return;
        }
        const certPem = new X509Certificate(peer.raw).toString();
        this.served.push({ at: Date.now(), certPem });
        req.resume();
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ phase: "Running", acceleration: "TCG" }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, POD_IP, resolve));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    this.stopWatch = watchTls(server, this.dir, initial, log, 200);
  }

  /** The stand-in kubelet's volume sync for the VM's TLS Secret. */
  follow(secretName: string) {
    this.sync = setInterval(() => {
      c.get<V1Secret>(paths.secret(NS, secretName))
        .then((s) => {
          if (s.metadata?.resourceVersion === this.lastVersion) return;
          this.lastVersion = s.metadata?.resourceVersion ?? "";
          this.write({
            "tls.crt": b64(s.data?.["tls.crt"]),
            "tls.key": b64(s.data?.["tls.key"]),
            "ca.crt": b64(s.data?.["ca.crt"]),
          });
        })
        .catch(() => {});
    }, 200);
  }

  private write(files: Record<string, string>) {
    // One file at a time: a set caught half-written is skipped by the reload until whole.
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(this.dir, `.${name}.tmp`), text);
      renameSync(join(this.dir, `.${name}.tmp`), join(this.dir, name));
    }
  }

  async close() {
    clearInterval(this.sync);
    this.stopWatch?.();
    const s = this.server;
    s?.closeAllConnections();
    if (s) await new Promise((r) => s.close(r));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One GET /status as `who`, trusting `caPem`: the status code, or the TLS refusal. */
function callAs(port: number, who: PemPair, caPem: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: POD_IP,
        port,
        path: "/status",
        servername: launcherServerName(NS, VM),
        ca: caPem,
        cert: who.certPem,
        key: who.keyPem,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", (err) => resolve(`refused: ${err.message}`));
    req.end();
  });
}

/** Everything the test saw, sampled every 100 ms. */
interface Sample {
  at: number;
  caSecret: V1Secret;
  launcherSecret?: V1Secret;
  caBundle: string;
}

const launcher = new SecretMountedLauncher();
const node = new FakeNode(c, "node-rotation");
const kubelet = new FakeKubelet(c, NS, 240);
const samples: Sample[] = [];
let sampler: NodeJS.Timeout | undefined;
let operator: RunningOperator | undefined;
let firstCa: PemPair;

beforeAll(async () => {
  await ensureNamespace(c, NS);
  await ensureNamespace(c, OPERATOR_NS);
  await node.start();
  kubelet.start();
  const placeholderCa = await createCA("placeholder");
  const placeholder = await issueCertificate(placeholderCa, {
    commonName: "placeholder",
    usage: "server",
  });
  await launcher.start({ ...placeholder, caPem: placeholderCa.certPem });
  // An APIService object only to watch its caBundle: no Service behind it is ever dialled.
  await c.create("/apis/apiregistration.k8s.io/v1/apiservices", {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: API_SERVICE },
    spec: {
      group: "rotation-test.kubevisor.io",
      version: "v1",
      groupPriorityMinimum: 1000,
      versionPriority: 15,
      service: { name: "nothing", namespace: OPERATOR_NS, port: 443 },
    },
  });
  operator = await startOperator({
    kubeConfig: kubeConfig(),
    namespace: OPERATOR_NS,
    launcherImage: "kubevisor:test",
    identity: "rotation-test",
    leaderElection: false,
    decide: FAST,
    launcherPort: launcher.port,
    certificates: CERTS,
    publishTrust: caBundlePublisher(c, log, API_SERVICE),
  });
  const ca = await c.get<V1Secret>(paths.secret(OPERATOR_NS, CA_SECRET));
  firstCa = { certPem: b64(ca.data?.["tls.crt"]), keyPem: b64(ca.data?.["tls.key"]) };
  launcher.follow(launcherTlsSecretName(VM));
  sampler = setInterval(() => {
    void Promise.all([
      c.get<V1Secret>(paths.secret(OPERATOR_NS, CA_SECRET)),
      c.get<V1Secret>(paths.secret(NS, launcherTlsSecretName(VM))).catch(() => undefined),
      c.get<{ spec?: { caBundle?: string } }>(
        `/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`,
      ),
    ])
      .then(([caSecret, launcherSecret, apiService]) => {
        samples.push({
          at: Date.now(),
          caSecret,
          ...(launcherSecret ? { launcherSecret } : {}),
          caBundle: b64(apiService.spec?.caBundle),
        });
      })
      .catch(() => {});
  }, 100);
}, 120_000);

afterAll(async () => {
  clearInterval(sampler);
  await c.delete(vmPath(NS, VM)).catch(() => {});
  await until(
    "VM gone",
    async () => !(await getVm(c, NS, VM).catch(() => undefined)),
    30_000,
  ).catch(() => {});
  await operator?.stop();
  kubelet.stop();
  node.stop();
  await launcher.close();
  await c.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`).catch(() => {});
  await c.delete(`${paths.nodes()}/${node.name}`).catch(() => {});
  c.close();
});

const asOperator = { commonName: LAUNCHER_CLIENT_CN, usage: "client" as const };
const caNow = async () => {
  const ca = await c.get<V1Secret>(paths.secret(OPERATOR_NS, CA_SECRET));
  return {
    signing: { certPem: b64(ca.data?.["tls.crt"]), keyPem: b64(ca.data?.["tls.key"]) },
    bundle: b64(ca.data?.["ca.crt"]),
  };
};

describe("certificate rotation with seconds-long certificates", () => {
  it("renews leaves before expiry, rotates the CA with an overlap, and the launcher keeps answering", async () => {
    await createVm(c, NS, VM);
    await until(
      "the VM running on its launcher",
      async () =>
        (await getVm(c, NS, VM)).status?.phase === "Running" && launcher.served.length > 0,
      60_000,
    );
    // A client certificate of the first CA, as an attacker holding that CA's key would make
    // it (or as a leaf issued just before the rotation): trusted while the overlap lasts.
    const old = await issueCertificate(firstCa, { ...asOperator, validForMs: 300 * S });

    await until(
      "the new CA signing",
      async () => (await caNow()).signing.certPem !== firstCa.certPem,
      90_000,
    );
    expect(await callAs(launcher.port, old, (await caNow()).bundle)).toBe(200);

    // The overlap ends: the first CA leaves every bundle.
    const dropped = await until(
      "the first CA dropped from every bundle",
      async () => {
        const last = samples.at(-1);
        if (!last?.launcherSecret) return undefined;
        const bundles = [
          b64(last.caSecret.data?.["ca.crt"]),
          b64(last.launcherSecret.data?.["ca.crt"]),
          last.caBundle,
        ];
        return bundles.every((b) => certsOf(b).length === 1 && !b.includes(firstCa.certPem.trim()))
          ? last
          : undefined;
      },
      60_000,
    );
    const secondCa = b64(dropped.caSecret.data?.["tls.crt"]);
    // Attacker: the same certificate is refused once the launcher has re-read its files,
    // while the first CA itself is still within its dates (so the drop refused it).
    const bundle = (await caNow()).bundle;
    await until("the old CA's client certificate refused", async () =>
      String(await callAs(launcher.port, old, bundle)).startsWith("refused"),
    );
    expect(Date.now()).toBeLessThan(Date.parse(new X509Certificate(firstCa.certPem).validTo));
    // Control: a fresh certificate of today's CA is answered; an expired one is refused.
    const current = (await caNow()).signing;
    const good = await issueCertificate(current, { ...asOperator, validForMs: 60 * S });
    expect(await callAs(launcher.port, good, bundle)).toBe(200);
    const expired = await issueCertificate(current, { ...asOperator, validForMs: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await callAs(launcher.port, expired, bundle)).toMatch(/^refused/);

    // Before anything was signed with the new CA, it was in every bundle: the launcher's
    // Secret and the APIService caBundle.
    const withLauncher = samples.filter((s) => s.launcherSecret);
    const firstSigned = [
      ...withLauncher
        .filter((s) => signedBy(b64(s.launcherSecret?.data?.["tls.crt"]), secondCa))
        .map((s) => s.at),
      ...launcher.served.filter((r) => signedBy(r.certPem, secondCa)).map((r) => r.at),
    ].sort((a, b) => a - b)[0];
    expect(firstSigned, "a leaf of the new CA was seen").toBeDefined();
    const inBundle = (pick: (s: Sample) => string) =>
      samples.find((s) => certsOf(pick(s)).includes(secondCa.trim()))?.at;
    const inLauncherBundle = inBundle((s) => b64(s.launcherSecret?.data?.["ca.crt"]));
    const inApiService = inBundle((s) => s.caBundle);
    expect(inLauncherBundle).toBeDefined();
    expect(inApiService).toBeDefined();
    expect(inLauncherBundle).toBeLessThan(firstSigned as number);
    expect(inApiService).toBeLessThan(firstSigned as number);

    // Every launcher serving certificate was replaced while the one before was still valid.
    const servingCerts = [
      ...new Set(withLauncher.map((s) => b64(s.launcherSecret?.data?.["tls.crt"]))),
    ];
    expect(servingCerts.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < servingCerts.length; i++) {
      const seenAt = withLauncher.find(
        (s) => b64(s.launcherSecret?.data?.["tls.crt"]) === servingCerts[i],
      )?.at as number;
      const previousEnd = Date.parse(new X509Certificate(servingCerts[i - 1] as string).validTo);
      expect(seenAt, `serving certificate ${i} came before ${i - 1} expired`).toBeLessThan(
        previousEnd,
      );
    }
    // The operator renewed its own client certificate too, and was answered with
    // certificates of both CAs, also after the drop.
    const clientCerts = new Set(launcher.served.map((r) => r.certPem));
    expect(clientCerts.size).toBeGreaterThanOrEqual(3);
    expect(launcher.served.some((r) => signedBy(r.certPem, firstCa.certPem))).toBe(true);
    expect(launcher.served.some((r) => signedBy(r.certPem, secondCa))).toBe(true);
    const after = Date.now();
    await until("the operator answered after the drop", async () =>
      launcher.served.some((r) => r.at > after),
    );

    // The VM kept its one launcher throughout: rotation never starts or stops a VM.
    const vm = await getVm(c, NS, VM);
    expect(vm.status?.phase).toBe("Running");
    expect(vm.status?.launchCount).toBe(1);
    expectNoDuplicates(await launcherPods(c, NS, VM));
  }, 240_000);
});
