import type { VmGuestAction } from "../api/subresources.js";
import { type LauncherClient, LauncherError } from "../operator/launcher-client.js";
import type { VmView } from "./actions.js";
import { failure, type Status, success } from "./status.js";

/** A screenshot larger than this is refused by the launcher already; this bounds a liar. */
const MAX_SCREENSHOT_BYTES = 8 * 1024 * 1024 + 1024;
const SCREENSHOT_DEADLINE_MS = 15_000;
const PAUSE_DEADLINE_MS = 10_000;

/** Where the VM's guest runs now: its launcher's pod IP, or why there is none (409). */
export function runningLauncher(
  vm: VmView & { status?: { ipAddress?: string } },
): { podIP: string } | Status {
  const podIP = vm.status?.ipAddress;
  const phase = vm.status?.phase ?? "unknown";
  if (!podIP || !["Running", "Migrating"].includes(phase)) {
    return failure(409, `VM ${vm.metadata.name} is not running (phase ${phase})`);
  }
  return { podIP };
}

/** pause → the launcher's POST /pause (QMP stop); unpause → POST /unpause (QMP cont). */
export async function guestAction(
  launchers: LauncherClient,
  vm: VmView,
  action: VmGuestAction,
): Promise<Status> {
  const at = runningLauncher(vm);
  if ("code" in at) return at;
  const address = { podIP: at.podIP, namespace: vm.metadata.namespace, vmName: vm.metadata.name };
  try {
    await launchers.call(address, "POST", `/${action}`, undefined, PAUSE_DEADLINE_MS);
  } catch (err) {
    return launcherFailure(vm, action, err);
  }
  return success(`VM ${vm.metadata.name} ${action === "pause" ? "paused" : "unpaused"}`);
}

/** The display as PNG bytes, from the launcher's GET /screenshot. */
export async function screenshot(
  launchers: LauncherClient,
  vm: VmView,
): Promise<{ png: Buffer } | Status> {
  const at = runningLauncher(vm);
  if ("code" in at) return at;
  const address = { podIP: at.podIP, namespace: vm.metadata.namespace, vmName: vm.metadata.name };
  try {
    const res = await launchers.request(
      address,
      "GET",
      "/screenshot",
      undefined,
      SCREENSHOT_DEADLINE_MS,
      MAX_SCREENSHOT_BYTES,
    );
    if (res.headers["content-type"] !== "image/png") {
      return failure(500, `the launcher of VM ${vm.metadata.name} answered no PNG`);
    }
    return { png: res.body };
  } catch (err) {
    return launcherFailure(vm, "screenshot", err);
  }
}

/** A launcher's 409 (no display, not running there) stays a 409; anything else is a 503. */
function launcherFailure(vm: VmView, what: string, err: unknown): Status {
  const message = (err as Error).message;
  if (err instanceof LauncherError && err.status === 409) {
    const words = /"message":"([^"]*)"/.exec(message)?.[1] ?? message;
    return failure(409, `VM ${vm.metadata.name}: ${words}`);
  }
  return failure(503, `${what} of VM ${vm.metadata.name} failed: ${message}`);
}
