import { subresourcePath, type VmAction } from "../../api/subresources.js";
import type { CommonArgs } from "./args.js";
import { fromKubeError, session } from "./kube.js";

interface StatusBody {
  message?: string;
  details?: { name?: string };
}

/** PUT one of the VM's action subresources; returns the server's Status. */
export async function putAction(
  args: CommonArgs,
  action: VmAction,
  body?: unknown,
): Promise<StatusBody> {
  const s = session(args);
  try {
    return await s.client.request<StatusBody>(
      "PUT",
      subresourcePath(s.namespace, args.name, action),
      {
        body: body ?? {},
      },
    );
  } catch (err) {
    return fromKubeError(err);
  } finally {
    s.client.close();
  }
}

/** `kubectl vm start|stop|restart NAME`. */
export async function runAction(
  args: CommonArgs,
  action: "start" | "stop" | "restart",
): Promise<number> {
  const status = await putAction(args, action);
  console.log(status.message ?? `${action} requested`);
  return 0;
}
