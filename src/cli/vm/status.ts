import {
  GROUP,
  VERSION,
  type VirtualMachineSpec,
  type VirtualMachineStatus,
} from "../../api/index.js";
import { paths } from "../../kube/client.js";
import type { CommonArgs, ConnectionArgs, OutputFormat } from "./args.js";
import { fromKubeError, type Session, session } from "./kube.js";
import { vmTable } from "./output.js";

export interface VmObject {
  metadata: { name: string; namespace: string; creationTimestamp?: string };
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

/** Objects as kubectl -o json|yaml prints them: a List for several. */
async function serialize(obj: unknown, format: "json" | "yaml"): Promise<string> {
  if (format === "json") return JSON.stringify(obj, null, 2);
  const { stringify } = await import("yaml");
  return stringify(obj).trimEnd();
}

export async function runStatus(args: CommonArgs & { output?: OutputFormat }): Promise<number> {
  const s = session(args);
  try {
    const vm = await getVm(s, args.name);
    if (args.output === "json" || args.output === "yaml")
      console.log(await serialize(vm, args.output));
    else if (args.output === "wide")
      console.log(vmTable([vm], { wide: true, allNamespaces: false, now: new Date() }).join("\n"));
    else console.log(describeVm(vm).join("\n"));
    return 0;
  } finally {
    s.client.close();
  }
}

/** `kubectl vm list [-A] [-o json|yaml|wide]`. */
export async function runList(
  args: ConnectionArgs & { allNamespaces: boolean; output?: OutputFormat },
): Promise<number> {
  const s = session(args);
  try {
    const list = await s.client
      .list<VmObject>(
        paths.custom(
          GROUP,
          VERSION,
          "virtualmachines",
          args.allNamespaces ? undefined : s.namespace,
        ),
      )
      .catch(fromKubeError);
    const items = [...list.items].sort(
      (a, b) =>
        a.metadata.namespace.localeCompare(b.metadata.namespace) ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
    if (args.output === "json" || args.output === "yaml") {
      console.log(await serialize({ apiVersion: "v1", kind: "List", items }, args.output));
    } else if (items.length === 0) {
      console.error(
        args.allNamespaces ? "No VMs found." : `No VMs found in namespace ${s.namespace}.`,
      );
    } else {
      const table = vmTable(items, {
        wide: args.output === "wide",
        allNamespaces: args.allNamespaces,
        now: new Date(),
      });
      console.log(table.join("\n"));
    }
    return 0;
  } finally {
    s.client.close();
  }
}
