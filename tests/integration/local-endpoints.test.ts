/**
 * The local endpoints controller that startControlPlane runs beside the run's control
 * plane: a Service selecting a pod with a loopback IP gets an FQDN EndpointSlice that
 * follows the pod's readiness and goes with the Service. No local node runs here: the pod
 * is bound to a hand-made Node and its status is written as a kubelet would.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type V1EndpointSlice,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { localEndpointsPid } from "../../src/local/endpoints/lifecycle.js";
import { eventually } from "./apiserver/harness.js";

const skip = process.env.KUBEVISOR_SKIP_CONTROL_PLANE === "1";
const ns = "local-endpoints-it";
const node = "local-endpoints-it-node";
const ip = `127.1.200.${2 + Math.floor(Math.random() * 250)}`;

let core: CoreV1Api;
let discovery: DiscoveryV1Api;

async function slice(): Promise<V1EndpointSlice | undefined> {
  try {
    return await discovery.readNamespacedEndpointSlice({ name: "web-local", namespace: ns });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

async function setReady(ready: boolean): Promise<void> {
  const pod = await core.readNamespacedPod({ name: "web-0", namespace: ns });
  const now = new Date();
  pod.status = {
    phase: "Running",
    podIP: ip,
    podIPs: [{ ip }],
    hostIP: "127.0.0.1",
    conditions: [
      { type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now },
      { type: "PodScheduled", status: "True", lastTransitionTime: now },
    ],
  };
  await core.replaceNamespacedPodStatus({ name: "web-0", namespace: ns, body: pod });
}

describe.skipIf(skip)("local endpoints controller", () => {
  beforeAll(async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(inject("kubeconfig"));
    core = kc.makeApiClient(CoreV1Api);
    discovery = kc.makeApiClient(DiscoveryV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNode({ body: { metadata: { name: node } } });
  });

  afterAll(async () => {
    if (!core) return;
    await core.deleteNamespace({ name: ns }).catch(() => {});
    await core.deleteNode({ name: node }).catch(() => {});
  });

  it("runs with the control plane", () => {
    expect(localEndpointsPid(inject("clusterDir"))).toBeGreaterThan(0);
  });

  it("publishes a ready loopback pod behind its Service in an FQDN slice", async () => {
    await core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: {
          selector: { app: "web" },
          ports: [{ name: "http", port: 80, targetPort: "http" as unknown as number }],
        },
      },
    });
    const pod: V1Pod = {
      metadata: { name: "web-0", labels: { app: "web" } },
      spec: {
        nodeName: node,
        tolerations: [{ operator: "Exists" }],
        containers: [
          {
            name: "c",
            image: "example.invalid/none",
            ports: [{ name: "http", containerPort: 8080 }],
          },
        ],
      },
    };
    await core.createNamespacedPod({ namespace: ns, body: pod });
    await setReady(true);
    const s = await eventually("the local slice with the pod", async () => {
      const s = await slice();
      return s?.endpoints?.[0]?.addresses[0] === ip ? s : undefined;
    });
    expect(s.addressType).toBe("FQDN");
    expect(s.metadata?.labels?.["kubernetes.io/service-name"]).toBe("web");
    expect(s.metadata?.ownerReferences?.[0]?.kind).toBe("Service");
    expect(s.ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);
    expect(s.endpoints[0]).toMatchObject({
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: node,
      targetRef: { kind: "Pod", name: "web-0" },
    });
  });

  it("marks the endpoint not ready when the pod is not", async () => {
    await setReady(false);
    await eventually("the endpoint to be not ready", async () => {
      const s = await slice();
      return s?.endpoints?.[0]?.conditions?.ready === false ? true : undefined;
    });
  });

  it("deletes the slice with the Service", async () => {
    await core.deleteNamespacedService({ name: "web", namespace: ns });
    await eventually("the slice to be gone", async () => ((await slice()) ? undefined : true));
  });
});
