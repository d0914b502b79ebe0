import type { LauncherPhase, LauncherStatus } from "../../api/index.js";
import type { LauncherFault } from "../launcher-client.js";
import { LAUNCHER_RETRY_MS } from "./decide.js";

/**
 * How long the operator reuses a launcher's /status answer before asking again:
 *
 * | answer | reused for |
 * | --- | --- |
 * | none yet, or unreachable / refused | LAUNCHER_RETRY_MS (its API may just be starting) |
 * | misbehaving (answered wrongly) | half the poll interval |
 * | a launcher on its way (`Preparing`, `Starting`: accelerator not chosen yet, guest booting) | LAUNCHER_RETRY_MS |
 * | anything else | half the poll interval |
 *
 * On its way: with /dev/kvm a launcher answers while its KVM probe runs; reusing that answer
 * for half a poll left a Running VM without its accelerator in status for ~15 s.
 */
const ON_ITS_WAY: Readonly<Record<LauncherPhase, boolean>> = {
  Preparing: true,
  Starting: true,
  Running: false,
  Paused: false,
  WaitingForMigration: false,
  Migrating: false,
  Migrated: false,
  Stopping: false,
  Stopped: false,
  Failed: false,
};

export function launcherAnswerFreshMs(
  answer: { launcher?: LauncherStatus; launcherFault?: { fault: LauncherFault } } | undefined,
  statusPollMs: number,
): number {
  if (answer?.launcherFault?.fault === "misbehaving") return statusPollMs / 2;
  if (!answer?.launcher) return LAUNCHER_RETRY_MS;
  return ON_ITS_WAY[answer.launcher.phase] ? LAUNCHER_RETRY_MS : statusPollMs / 2;
}
