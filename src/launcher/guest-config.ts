import { join } from "node:path";
import type { GuestOutbound } from "../api/launcher.js";
import { imageDirName } from "../api/launcher.js";
import { quantityToMiB } from "../api/quantity.js";
import { graphicsEnabled, isBootableDisk, type VirtualMachineSpec } from "../api/virtualmachine.js";
import type { DiskConfig, FirmwareConfig, GuestConfig } from "../vmm/index.js";
import { pathInside } from "./paths.js";
import type { RelayedPort } from "./port-relay.js";
import type { LaunchedVm } from "./spec.js";

export function guestProtocol(protocol: "TCP" | "UDP"): "tcp" | "udp" {
  return protocol === "UDP" ? "udp" : "tcp";
}

export class GuestSpecError extends Error {
  override name = "GuestSpecError";
}

export interface GuestConfigInputs {
  imagesDir: string;
  /** Where forwarded guest ports listen, like a container's ports (listen.ts). */
  forwardHost: string;
  /** Ports the launcher relays (port-relay.ts): QEMU forwards each from its internal port. */
  relayed?: readonly RelayedPort[];
  /** Ports the launcher itself serves on the pod IP; a guest port may not take them. */
  reservedPorts: number[];
  /** The prepared disks, in spec order. */
  disks: DiskConfig[];
  /** This VM's own UEFI variable store (made from the template before QEMU starts). */
  uefiVarsPath: string;
  /** Where QEMU listens for the launcher's guest-agent client. */
  agentSocket: string;
  /** Where QEMU serves the display as VNC, when the VM has one. */
  vncSocket: string;
  guestOutbound: GuestOutbound;
}

/** The VMM's view of the VM: every path resolved on this host, nothing left to Kubernetes. */
export function guestConfigFor(vm: LaunchedVm, inputs: GuestConfigInputs): GuestConfig {
  const { spec } = vm;
  const kernel = spec.boot?.kernel;
  const config: GuestConfig = {
    // QEMU names allow no slash; namespace and name are DNS labels, so the dot is unambiguous.
    name: `${vm.namespace}.${vm.name}`,
    machine: spec.machine.type,
    cores: spec.cpu.cores,
    memoryMiB: quantityToMiB(spec.memory.size),
    disks: inputs.disks,
    network: {
      ports: spec.network.ports.map((p) => {
        if (inputs.reservedPorts.includes(p.port)) {
          throw new GuestSpecError(
            `spec.network.ports.${p.name}: port ${p.port} is reserved for the launcher API`,
          );
        }
        const protocol = guestProtocol(p.protocol);
        const relay = inputs.relayed?.find((r) => r.protocol === protocol && r.port === p.port);
        return {
          protocol,
          hostAddress: inputs.forwardHost,
          hostPort: relay?.internalPort ?? p.port,
          guestPort: p.port,
        };
      }),
      restrictOutbound: inputs.guestOutbound === "deny",
    },
    agent: { socket: inputs.agentSocket },
  };
  if (graphicsEnabled(spec)) config.graphics = { vncSocket: inputs.vncSocket };
  if (kernel) {
    const imageDir = join(inputs.imagesDir, imageDirName(kernel.image));
    const k: NonNullable<GuestConfig["kernel"]> = { path: pathInside(imageDir, kernel.kernelPath) };
    if (kernel.initrdPath) k.initrdPath = pathInside(imageDir, kernel.initrdPath);
    if (kernel.cmdline !== undefined) k.cmdline = kernel.cmdline;
    config.kernel = k;
    return config;
  }
  config.firmware = firmwareFor(spec, inputs.uefiVarsPath);
  const order = bootIndexes(spec.disks);
  config.disks = inputs.disks.map((disk, i) => {
    const bootIndex = order[i];
    return bootIndex === undefined ? disk : { ...disk, bootIndex };
  });
  return config;
}

/** BIOS (SeaBIOS) unless the spec asks for UEFI. */
export function firmwareFor(spec: VirtualMachineSpec, uefiVarsPath: string): FirmwareConfig {
  const fw = spec.firmware;
  if (fw?.type !== "UEFI") return { type: "bios" };
  return { type: "uefi", secureBoot: fw.secureBoot, varsPath: uefiVarsPath };
}

/** Whether this VM boots through UEFI firmware (and so needs its own vars store). */
export function usesUefi(spec: VirtualMachineSpec): boolean {
  return !spec.boot?.kernel && spec.firmware?.type === "UEFI";
}

/**
 * QEMU bootindex per disk (by spec position), as KubeVirt reads bootOrder: the disks with a
 * bootOrder, ranked by it (ties in spec order) from 1, and no others; without any bootOrder,
 * the first bootable disk (containerDisk or PVC) alone. Ranks, not the values themselves:
 * QEMU refuses a bootindex used twice.
 */
export function bootIndexes(disks: VirtualMachineSpec["disks"]): (number | undefined)[] {
  const result: (number | undefined)[] = disks.map(() => undefined);
  const ordered = disks
    .map((d, i) => ({ order: d.bootOrder, i }))
    .filter((d): d is { order: number; i: number } => d.order !== undefined)
    .sort((a, b) => a.order - b.order || a.i - b.i);
  if (ordered.length > 0) {
    for (const [rank, d] of ordered.entries()) result[d.i] = rank + 1;
    return result;
  }
  const first = disks.findIndex((d) => isBootableDisk(d));
  if (first >= 0) result[first] = 1;
  return result;
}
