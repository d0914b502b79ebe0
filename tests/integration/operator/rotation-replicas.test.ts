/**
 * Two operator replicas with leader election, each with its aggregated API server, through a
 * whole CA rotation with seconds-long certificates; the leader stops half way (after the new
 * CA was added) and the other one finishes the rotation. At every sample, the certificate each
 * API server presents comes from a CA the APIService caBundle held both just before and just
 * after the handshake: no replica ever serves a certificate the APIService does not trust.
 */
import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import type { V1Secret } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApiServer, startApiServer } from "../../../src/apiserver/server.js";
import { caBundlePublisher } from "../../../src/apiserver/serving-cert.js";
import { paths } from "../../../src/kube/client.js";
import { CA_SECRET } from "../../../src/operator/certs/ca-secret.js";
import { signedBy } from "../../../src/operator/certs/leaf-keeper.js";
import { type RunningOperator, startOperator } from "../../../src/operator/operator.js";
import { logger } from "../../../src/util/log.js";
import { client, ensureNamespace, kubeConfig, until } from "./harness.js";

const S = 1000;
const CERTS = { caLifetimeMs: 75 * S, leafLifetimeMs: 9 * S, propagationMs: 3 * S };
const OPERATOR_NS = "op-rotation-ha-system";
const API_SERVICE = "v1.rotation-ha-test.kubevisor.io";
const SERVICE = "kv-rotation-ha";
const IPS = ["127.0.0.241", "127.0.0.242"];

const c = client();
const log = logger("rotation-ha-test");
const b64 = (v: string | undefined) => Buffer.from(v ?? "", "base64").toString("utf8");
const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const certsOf = (bundle: string): string[] => bundle.match(PEM) ?? [];
const apiServicePath = `/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`;
const caBundle = async () =>
  b64((await c.get<{ spec?: { caBundle?: string } }>(apiServicePath)).spec?.caBundle);

/** The certificate a server presents (its chain is not checked here: we judge it). */
function presented(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw).toString());
    });
    socket.on("error", reject);
  });
}

const operators: RunningOperator[] = [];
const servers: RunningApiServer[] = [];
/** Per sample: which server, and whether its certificate's CA was in the bundle throughout. */
const checks: { server: number; at: number; trusted: boolean; ca: string }[] = [];
let sampling = true;
let sampler: Promise<void> | undefined;

beforeAll(async () => {
  await ensureNamespace(c, OPERATOR_NS);
  await c.create("/apis/apiregistration.k8s.io/v1/apiservices", {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: API_SERVICE },
    spec: {
      group: "rotation-ha-test.kubevisor.io",
      version: "v1",
      groupPriorityMinimum: 1000,
      versionPriority: 15,
      service: { name: SERVICE, namespace: OPERATOR_NS, port: 443 },
    },
  });
  for (const [i, ip] of IPS.entries()) {
    operators.push(
      await startOperator({
        kubeConfig: kubeConfig(),
        namespace: OPERATOR_NS,
        launcherImage: "kubevisor:test",
        identity: `replica-${i}`,
        leaderElection: true,
        lease: { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
        certificates: CERTS,
        publishTrust: caBundlePublisher(c, log, API_SERVICE),
      }),
    );
    servers.push(
      await startApiServer({
        kubeConfig: kubeConfig(),
        namespace: OPERATOR_NS,
        host: ip,
        port: 0,
        service: SERVICE,
        apiService: API_SERVICE,
        certificates: CERTS,
      }),
    );
  }
  sampler = (async () => {
    while (sampling) {
      for (const [i, server] of servers.entries()) {
        try {
          const before = certsOf(await caBundle());
          const cert = await presented(IPS[i] as string, server.port);
          const after = certsOf(await caBundle());
          const ca = before.find((pem) => signedBy(cert, pem)) ?? "";
          checks.push({ server: i, at: Date.now(), trusted: ca !== "" && after.includes(ca), ca });
        } catch {
          // A server stopped by the test: nothing to judge.
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
}, 120_000);

afterAll(async () => {
  sampling = false;
  await sampler;
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(operators.map((o) => o.stop()));
  await c.delete(apiServicePath).catch(() => {});
  await c.delete(`/api/v1/namespaces/${OPERATOR_NS}`).catch(() => {});
  c.close();
});

describe("two replicas through a CA rotation", () => {
  it("never serve a certificate the APIService does not trust; the new leader finishes the rotation", async () => {
    const caSecret = () => c.get<V1Secret>(paths.secret(OPERATOR_NS, CA_SECRET));
    const firstCa = b64((await caSecret()).data?.["tls.crt"]);
    // Half way: the new CA is in the bundle, not yet signing. The leader goes away.
    await until(
      "a pending CA",
      async () => (await caSecret()).data?.["pending.crt"] !== undefined,
      90_000,
    );
    const leader = await until("a leader", async () => operators.find((o) => o.isLeader()));
    operators.splice(operators.indexOf(leader), 1);
    await leader.stop();
    const follower = operators[0] as RunningOperator;
    await until("the other replica leading", async () => follower.isLeader(), 30_000);
    // It promotes the new CA and drops the first one.
    const dropped = await until(
      "the first CA dropped",
      async () => {
        const s = await caSecret();
        const bundle = certsOf(b64(s.data?.["ca.crt"]));
        return bundle.length === 1 && !bundle.includes(firstCa.trim()) ? s : undefined;
      },
      60_000,
    );
    const secondCa = b64(dropped.data?.["tls.crt"]).trim();
    await until("the APIService caBundle holds only the new CA", async () => {
      const bundle = certsOf(await caBundle());
      return bundle.length === 1 && bundle[0] === secondCa;
    });
    // Both API servers moved to the new CA, and never presented an untrusted certificate.
    const seen = checks.length;
    await until("both servers sampled again", async () => checks.length >= seen + 4);
    for (const i of [0, 1]) {
      const mine = checks.filter((k) => k.server === i);
      expect(mine.some((k) => k.ca.trim() === firstCa.trim())).toBe(true);
      expect(mine.at(-1)?.ca.trim()).toBe(secondCa);
    }
    const untrusted = checks.filter((k) => !k.trusted);
    expect(untrusted, `untrusted certificates presented: ${untrusted.length}`).toEqual([]);
  }, 240_000);
});
