import type { V1Secret } from "@kubernetes/client-node";
import { launcherServerName, type VirtualMachine } from "../../api/index.js";
import { vmLabels, vmOwnerReference } from "./launcher-pod.js";
import { launcherTlsSecretName } from "./naming.js";

export const COMPONENT_TLS = "launcher-tls";

/** The certificate request for a VM's launcher: one DNS name, since pod IPs come later. */
export function launcherCertificateRequest(vm: VirtualMachine) {
  const serverName = launcherServerName(vm.metadata.namespace ?? "", vm.metadata.name ?? "");
  return { commonName: serverName, dnsNames: [serverName], usage: "server" as const };
}

/**
 * The Secret a launcher pod mounts at LAUNCHER_TLS_DIR: its serving certificate and key,
 * and ca.crt, the operator CA it checks client certificates against. Owned by the VM, so it
 * goes when the VM goes; one per VM, shared by every launch and migration target.
 */
export function buildLauncherTlsSecret(
  vm: VirtualMachine,
  serving: { certPem: string; keyPem: string },
  caCertPem: string,
): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: launcherTlsSecretName(vm.metadata.name ?? ""),
      namespace: vm.metadata.namespace,
      labels: vmLabels(vm, COMPONENT_TLS),
      ownerReferences: [vmOwnerReference(vm)],
    },
    stringData: { "tls.crt": serving.certPem, "tls.key": serving.keyPem, "ca.crt": caCertPem },
  };
}
