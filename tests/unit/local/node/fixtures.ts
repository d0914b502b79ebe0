import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { PodFacts } from "../../../../src/local/node/fieldpath.js";

export function pod(
  spec: Partial<V1Pod["spec"]> = {},
  meta: Partial<V1Pod["metadata"]> = {},
): V1Pod {
  return {
    metadata: {
      name: "web",
      namespace: "apps",
      uid: "uid-1",
      labels: { app: "web", tier: "front" },
      annotations: { "example.com/note": "hi" },
      ...meta,
    },
    spec: {
      containers: [{ name: "c", image: "kubevisor/kubevisor:latest" }],
      serviceAccountName: "sa",
      ...spec,
    },
  };
}

export function facts(p: V1Pod = pod()): PodFacts {
  return {
    pod: p,
    nodeName: "kubevisor-node-1",
    podIP: "127.1.0.7",
    hostIP: "127.0.0.1",
    allocatable: { cpu: "2", memory: "8Gi" },
  };
}

export function container(c: Partial<V1Container> = {}): V1Container {
  return { name: "c", image: "kubevisor/kubevisor:latest", command: ["sh"], ...c };
}
