import { join } from "node:path";
import { imageDirName } from "../api/launcher.js";
import { quantityToMiB } from "../api/quantity.js";
import type { DiskConfig, GuestConfig } from "../vmm/index.js";
import { pathInside } from "./paths.js";
import type { LaunchedVm } from "./spec.js";

export class GuestSpecError extends Error {
  override name = "GuestSpecError";
}

export interface GuestConfigInputs {
  imagesDir: string;
  /** Forwarded guest ports listen on the pod IP, like a container's ports. */
  podIP: string;
  /** Ports the launcher itself serves on the pod IP; a guest port may not take them. */
  reservedPorts: number[];
  disks: DiskConfig[];
}

/** The VMM's view of the VM: every path resolved on this host, nothing left to Kubernetes. */
export function guestConfigFor(vm: LaunchedVm, inputs: GuestConfigInputs): GuestConfig {
  const { spec } = vm;
  const kernel = spec.boot?.kernel;
  if (!kernel) {
    throw new GuestSpecError(
      "spec.boot.kernel is required: this release boots guests by direct kernel boot only",
    );
  }
  const imageDir = join(inputs.imagesDir, imageDirName(kernel.image));
  const kernelConfig: NonNullable<GuestConfig["kernel"]> = {
    path: pathInside(imageDir, kernel.kernelPath),
  };
  const config: GuestConfig = {
    // QEMU names allow no slash; namespace and name are DNS labels, so the dot is unambiguous.
    name: `${vm.namespace}.${vm.name}`,
    machine: spec.machine.type,
    cores: spec.cpu.cores,
    memoryMiB: quantityToMiB(spec.memory.size),
    kernel: kernelConfig,
    disks: inputs.disks,
    network: {
      ports: spec.network.ports.map((p) => {
        if (inputs.reservedPorts.includes(p.port)) {
          throw new GuestSpecError(
            `spec.network.ports.${p.name}: port ${p.port} is reserved for the launcher API`,
          );
        }
        return {
          protocol: p.protocol === "UDP" ? "udp" : "tcp",
          hostAddress: inputs.podIP,
          hostPort: p.port,
          guestPort: p.port,
        };
      }),
    },
  };
  if (kernel.initrdPath) kernelConfig.initrdPath = pathInside(imageDir, kernel.initrdPath);
  if (kernel.cmdline !== undefined) kernelConfig.cmdline = kernel.cmdline;
  return config;
}
