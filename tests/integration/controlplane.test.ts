import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  VersionApi,
} from "@kubernetes/client-node";
import { $ } from "dax-sh";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KUBERNETES_VERSION } from "../../src/local/build/targets.js";
import { renderKubeconfig } from "../../src/local/kubeconfig.js";
import { clusterLayout } from "../../src/local/layout.js";

const kubeconfig = inject("kubeconfig");

/** Polls `fn` until it returns a value, or fails after `ms` with `what`. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe.skipIf(!kubeconfig)("local control plane", () => {
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let ns: string;
  const node = `fake-node-${process.pid}`;

  beforeAll(async () => {
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    const created = await core.createNamespace({ body: { metadata: { generateName: "cp-" } } });
    ns = created.metadata?.name as string;
  });

  afterAll(async () => {
    await core.deleteNode({ name: node }).catch(() => {});
    await core.deleteNamespace({ name: ns }).catch(() => {});
  });

  it("is the version we built, and the environment points at it", async () => {
    const v = await kc.makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toBe(KUBERNETES_VERSION);
    expect(process.env.KUBECONFIG).toBe(kubeconfig);
  });

  it("creates namespaces", async () => {
    const got = await core.readNamespace({ name: ns });
    expect(got.status?.phase).toBe("Active");
  });

  it("enforces RBAC: a client certificate without roles is forbidden", async () => {
    const l = clusterLayout(inject("clusterDir"));
    const tmp = mkdtempSync(join(tmpdir(), "kubevisor-nobody-"));
    try {
      const key = join(tmp, "nobody.key");
      const csr = join(tmp, "nobody.csr");
      const crt = join(tmp, "nobody.crt");
      await $`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ${key} -out ${csr} -subj /O=nobodies/CN=nobody`.quiet();
      await $`openssl x509 -req -in ${csr} -CA ${l.pki.caCert} -CAkey ${l.pki.caKey} -set_serial 7 -days 1 -out ${crt}`.quiet();
      const nobody = new KubeConfig();
      nobody.loadFromString(
        renderKubeconfig({
          name: "nobody",
          server: kc.getCurrentCluster()?.server as string,
          caPem: readFileSync(l.pki.caCert, "utf8"),
          certPem: readFileSync(crt, "utf8"),
          keyPem: readFileSync(key, "utf8"),
          user: "nobody",
        }),
      );
      const err = await nobody
        .makeApiClient(CoreV1Api)
        .listNamespacedSecret({ namespace: "kube-system" })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiException);
      expect((err as ApiException<string>).code).toBe(403);
      expect(String((err as ApiException<string>).body)).toContain('User \\"nobody\\"');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("configures the aggregation layer (front-proxy CA published for extension servers)", async () => {
    const cm = await core.readNamespacedConfigMap({
      name: "extension-apiserver-authentication",
      namespace: "kube-system",
    });
    expect(cm.data?.["requestheader-client-ca-file"]).toContain("BEGIN CERTIFICATE");
    expect(cm.data?.["requestheader-allowed-names"]).toContain("front-proxy-client");
    expect(cm.data?.["requestheader-username-headers"]).toContain("X-Remote-User");
  });

  it("runs the controller-manager: a Deployment gets a ReplicaSet and a Pod", async () => {
    const labels = { app: "cp-test" };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: "c", image: "example.invalid/none" }] },
          },
        },
      },
    });
    const rs = await eventually("a ReplicaSet", async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace: ns });
      return list.items[0];
    });
    expect(rs.metadata?.ownerReferences?.[0]?.name).toBe("web");
    await eventually("the Deployment's Pod", async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "app=cp-test" });
      return pods.items[0];
    });
  });

  it("runs the scheduler: a Pod is bound to a registered Node with capacity", async () => {
    const capacity = { cpu: "4", memory: "8Gi", pods: "110" };
    await core.createNode({
      body: {
        metadata: { name: node, labels: { "kubernetes.io/hostname": node } },
        status: {
          capacity,
          allocatable: capacity,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Test",
              lastHeartbeatTime: new Date(),
              lastTransitionTime: new Date(),
            },
          ],
        },
      },
    });
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "placed" },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": node },
          // A new Node carries the not-ready taint until the node lifecycle controller sees a
          // heartbeat; this test is about the scheduler, not that controller.
          tolerations: [{ operator: "Exists" }],
          containers: [{ name: "c", image: "example.invalid/none" }],
        },
      },
    });
    const bound = await eventually("the Pod to be scheduled", async () => {
      const p = await core.readNamespacedPod({ name: "placed", namespace: ns });
      return p.spec?.nodeName;
    });
    expect(bound).toBe(node);
  });
});
