import type { LauncherStatus } from "../../api/launcher.js";
import type { SerialConsole } from "../../vmm/console.js";
import type { MigrationControl } from "../migration/control.js";

export type StartResult = "opened" | "alreadyOpen" | "notGated";

/**
 * What the launcher API reads from the running launcher; it changes nothing through it but
 * the migration, which has a control of its own.
 */
export interface LauncherView {
  /** True only while this process runs the guest. */
  ready(): boolean;
  status(): Promise<LauncherStatus>;
  /** The guest's serial console while QEMU runs; undefined otherwise. */
  serialConsole(): SerialConsole | undefined;
  /** Live migration of this launcher's guest; undefined until the guest exists. */
  migration(): MigrationControl | undefined;
  /** POST /start: open the start gate (the one write besides the migration). */
  start(): StartResult;
}
