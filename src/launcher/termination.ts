import { writeFile } from "node:fs/promises";
import { formatTerminationMessage } from "../api/launcher.js";
import type { Logger } from "../util/log.js";
import type { LauncherExit } from "./exit.js";

/** Tell the kubelet (and so the operator) why we ended: the container's termination message. */
export async function writeTerminationMessage(
  path: string,
  exit: LauncherExit,
  log: Logger,
): Promise<void> {
  try {
    await writeFile(path, formatTerminationMessage(exit.reason, exit.message));
  } catch (err) {
    log.warn({ err, path }, "cannot write the termination message");
  }
}
