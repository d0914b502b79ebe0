/** Pure: the create form's fields → a VirtualMachine manifest (unit-tested). */
import type { VirtualMachineSpecInput } from "../../api/virtualmachine.js";

export interface VmForm {
  name: string;
  cores: string;
  memory: string;
  image: string;
  /** Where the qcow2 sits inside the image (KubeVirt's containerDisk layout by default). */
  imagePath: string;
  user: string;
  sshKey: string;
}

export const DEFAULT_FORM: VmForm = {
  name: "",
  cores: "1",
  memory: "1Gi",
  image: "kubevisor/debian-cloud:12",
  imagePath: "/disk/disk.qcow2",
  user: "debian",
  sshKey: "",
};

export function cloudConfig(user: string, sshKey: string): string {
  const lines = ["#cloud-config", "users:", `  - name: ${JSON.stringify(user)}`];
  lines.push("    sudo: ALL=(ALL) NOPASSWD:ALL", "    shell: /bin/bash");
  if (sshKey.trim())
    lines.push("    ssh_authorized_keys:", `      - ${JSON.stringify(sshKey.trim())}`);
  return `${lines.join("\n")}\n`;
}

/**
 * Values go to the API as typed (a bad memory size included): the API server's own
 * validation answers, and the form shows its message beside the field.
 */
export function vmFromForm(f: VmForm, namespace: string) {
  const cores = /^\d+$/.test(f.cores.trim()) ? Number(f.cores.trim()) : f.cores.trim();
  const spec = {
    runStrategy: "Always",
    cpu: { cores },
    memory: { size: f.memory.trim() },
    disks: [
      {
        name: "root",
        bootOrder: 1,
        containerDisk: { image: f.image.trim(), path: f.imagePath.trim() },
      },
      {
        name: "cloudinit",
        cloudInitNoCloud: { userData: cloudConfig(f.user.trim() || "debian", f.sshKey) },
      },
    ],
    network: { ports: [{ name: "ssh", port: 22 }] },
  } as unknown as VirtualMachineSpecInput;
  return {
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: f.name.trim(), namespace },
    spec,
  };
}
