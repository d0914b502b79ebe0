import { subresourcePath, type VmAction, type VmGuestAction } from "../../api/subresources.js";
import type { CommonArgs, WaitArgs } from "./args.js";
import { fromKubeError, type Session, session } from "./kube.js";
import { getVm } from "./status.js";
import { type StateAction, waitForAction } from "./wait.js";

interface StatusBody {
  message?: string;
  details?: { name?: string };
}

/** PUT one of the VM's action subresources; returns the server's Status. */
export async function putAction(
  s: Session,
  name: string,
  action: VmAction | VmGuestAction,
  body?: unknown,
) {
  return s.client
    .request<StatusBody>("PUT", subresourcePath(s.namespace, name, action), { body: body ?? {} })
    .catch(fromKubeError);
}

/** `kubectl vm start|stop|restart NAME [--wait]`. */
export async function runAction(args: CommonArgs & WaitArgs, action: StateAction): Promise<number> {
  const s = session(args);
  try {
    const before = args.wait ? (await getVm(s, args.name)).status : undefined;
    const status = await putAction(s, args.name, action);
    console.log(status.message ?? `${action} requested`);
    if (args.wait) {
      const vm = await waitForAction(action, before, () => getVm(s, args.name), args.timeoutMs);
      console.log(`VM ${args.name} ${vm.status?.phase ?? ""}`.trimEnd());
    }
    return 0;
  } finally {
    s.client.close();
  }
}

/** `kubectl vm pause|unpause NAME`: the launcher stops or resumes the guest's vCPUs. */
export async function runGuestAction(args: CommonArgs, action: VmGuestAction): Promise<number> {
  const s = session(args);
  try {
    const status = await putAction(s, args.name, action);
    console.log(status.message ?? `${action} done`);
    return 0;
  } finally {
    s.client.close();
  }
}
