/**
 * The launcher: the process in every launcher pod (`node dist/launcher/main.js`). Runs one
 * VM's guest and serves the launcher API; launcher.ts has the steps, settings.ts the
 * environment it reads. The exit code and termination message say how the guest ended.
 */
import { logger } from "../util/log.js";
import { type LauncherOutcome, launcherExit } from "./exit.js";
import { Launcher } from "./launcher.js";
import { SettingsError, settingsFromEnv, terminationLogPath } from "./settings.js";
import { writeTerminationMessage } from "./termination.js";

const log = logger("launcher");

async function main(): Promise<never> {
  let launcher: Launcher;
  try {
    launcher = new Launcher(settingsFromEnv(process.env), log);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    return finish({ kind: "configError", message: err.message });
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, "asked to stop");
    // Leave with a true message just before the kubelet's SIGKILL would end us silently.
    const graceMs = launcher.graceMs();
    setTimeout(
      () =>
        void finish({ kind: "stopped", message: "the guest did not stop within the grace period" }),
      Math.max(graceMs - BACKSTOP_MARGIN_MS, BACKSTOP_MARGIN_MS),
    ).unref();
    void launcher.stop();
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  const outcome = await launcher.run();
  await launcher.close();
  return finish(outcome);
}

const BACKSTOP_MARGIN_MS = 500;

async function finish(outcome: LauncherOutcome): Promise<never> {
  const exit = launcherExit(outcome);
  await writeTerminationMessage(terminationLogPath(process.env), exit, log);
  log[exit.code === 0 ? "info" : "error"]({ reason: exit.reason, code: exit.code }, exit.message);
  // QEMU runs with a parent-death signal, so it cannot outlive this exit.
  process.exit(exit.code);
}

main().catch((err: unknown) => {
  log.fatal({ err }, "launcher failed");
  void finish({ kind: "crashed", message: `launcher failed: ${(err as Error).message}` });
});
