import {
  GROUP,
  VERSION,
  type VirtualMachineSpec,
  type VirtualMachineStatus,
} from "../../api/index.js";
import { paths } from "../../kube/client.js";
import type { CommonArgs } from "./args.js";
import { fromKubeError, type Session, session } from "./kube.js";

export interface VmObject {
  metadata: { name: string; namespace: string };
  spec: Partial<VirtualMachineSpec>;
  status?: VirtualMachineStatus;
}

export function getVm(s: Session, name: string): Promise<VmObject> {
  return s.client
    .get<VmObject>(paths.custom(GROUP, VERSION, "virtualmachines", s.namespace, name))
    .catch(fromKubeError);
}

/** Pure: the lines `kubectl vm status` prints. */
export function describeVm(vm: VmObject): string[] {
  const st = vm.status ?? {};
  const lines = [
    `VM:        ${vm.metadata.namespace}/${vm.metadata.name}`,
    `Phase:     ${st.phase ?? "Pending"}`,
    `Strategy:  ${vm.spec.runStrategy ?? "Always"}`,
  ];
  if (st.nodeName) lines.push(`Node:      ${st.nodeName}`);
  if (st.launcherPod) lines.push(`Pod:       ${st.launcherPod}`);
  if (st.ipAddress) lines.push(`IP:        ${st.ipAddress}`);
  if (st.acceleration)
    lines.push(
      `Accel:     ${st.acceleration}${st.accelerationReason ? ` (${st.accelerationReason})` : ""}`,
    );
  if (st.restartCount) lines.push(`Restarts:  ${st.restartCount}`);
  if (st.migration)
    lines.push(`Migration: ${st.migration.name} ${st.migration.phase ?? ""}`.trimEnd());
  for (const c of st.conditions ?? []) {
    lines.push(
      `Condition: ${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ""}${c.message ? `: ${c.message}` : ""}`,
    );
  }
  return lines;
}

export async function runStatus(args: CommonArgs): Promise<number> {
  const s = session(args);
  try {
    console.log(describeVm(await getVm(s, args.name)).join("\n"));
    return 0;
  } finally {
    s.client.close();
  }
}
