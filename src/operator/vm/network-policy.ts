import type { V1LabelSelector, V1ObjectMeta } from "@kubernetes/client-node";
import {
  COMPONENT_LAUNCHER,
  LABEL_COMPONENT,
  LABEL_VM,
  LAUNCHER_PORT,
  LAUNCHER_PROBE_PORT,
  type VirtualMachine,
} from "../../api/index.js";
import { vmLabels, vmOwnerReference } from "./launcher-pod.js";
import { boundedName, vmLabelValue } from "./naming.js";

export const COMPONENT_NETPOL = "network-policy";
/** Label the chart puts on operator pods; with the namespace, what may call launcher APIs. */
export const OPERATOR_POD_LABEL = { "app.kubernetes.io/component": "operator" };

/** As the API takes it (client-node's type spells `from` as `_from`, its own serialisation). */
export interface NetworkPolicy {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: V1ObjectMeta;
  spec: {
    podSelector: V1LabelSelector;
    policyTypes: string[];
    ingress: {
      from?: { namespaceSelector?: V1LabelSelector; podSelector?: V1LabelSelector }[];
      ports?: { protocol: string; port: number }[];
    }[];
  };
}

export function networkPolicyName(vmName: string): string {
  return boundedName(vmName, "-launcher-ingress");
}

/**
 * Who may open connections to a VM's launcher pods, on clusters that enforce NetworkPolicy:
 * - the launcher API (mutual TLS) — operator pods in the operator namespace only;
 * - the probe port (healthz/readyz, and /metrics for Prometheus; nothing that acts) —
 *   anyone: kubelets probe from the node;
 * - any port — the VM's own launcher pods, for migration (RAM and NBD listeners take
 *   ephemeral ports, so they cannot be named here);
 * - the guest's declared `network.ports` — anyone, as a Service in front of them expects.
 * Everything else (a tenant's pod, another VM's launcher) is dropped. The policy only adds
 * allowances for the pods it selects; one the tenant writes can open them further, but only
 * in their own namespace.
 */
export function buildNetworkPolicy(vm: VirtualMachine, operatorNamespace: string): NetworkPolicy {
  const name = vm.metadata.name ?? "";
  const launchers = { [LABEL_VM]: vmLabelValue(name), [LABEL_COMPONENT]: COMPONENT_LAUNCHER };
  const tcp = (port: number) => ({ protocol: "TCP", port });
  const guestPorts = vm.spec.network.ports.map((p) => ({ protocol: p.protocol, port: p.port }));
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: networkPolicyName(name),
      namespace: vm.metadata.namespace,
      labels: vmLabels(vm, COMPONENT_NETPOL),
      ownerReferences: [vmOwnerReference(vm)],
    },
    spec: {
      podSelector: { matchLabels: launchers },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: {
                matchLabels: { "kubernetes.io/metadata.name": operatorNamespace },
              },
              podSelector: { matchLabels: OPERATOR_POD_LABEL },
            },
          ],
          ports: [tcp(LAUNCHER_PORT)],
        },
        { ports: [tcp(LAUNCHER_PROBE_PORT)] },
        { from: [{ podSelector: { matchLabels: launchers } }] },
        ...(guestPorts.length > 0 ? [{ ports: guestPorts }] : []),
      ],
    },
  };
}
