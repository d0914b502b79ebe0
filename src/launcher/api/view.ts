import type { LauncherStatus } from "../../api/launcher.js";
import type { SerialConsole } from "../../vmm/console.js";
import type { Guest } from "../guest.js";
import type { MigrationControl } from "../migration/control.js";

/** What the user may do to the running guest through the API (besides migrating it). */
export type GuestControl = Pick<
  Guest,
  "pause" | "unpause" | "screenshot" | "vncSocket" | "openPort"
>;
export type StartResult = "opened" | "alreadyOpen" | "notGated";

/**
 * What the launcher API reads from the running launcher; it changes nothing through it but
 * the migration and the guest's pause state, which have controls of their own.
 */
export interface LauncherView {
  /** True only while this process runs the guest. */
  ready(): boolean;
  status(): Promise<LauncherStatus>;
  /** The guest's serial console while QEMU runs; undefined otherwise. */
  serialConsole(): SerialConsole | undefined;
  /** Prometheus text of this VM's metrics (bounded: a stuck QEMU cannot hang it). */
  metrics(): Promise<string>;
  /** Live migration of this launcher's guest; undefined until the guest exists. */
  migration(): MigrationControl | undefined;
  /** Pause, unpause, screen; undefined until the guest exists. */
  guestControl(): GuestControl | undefined;
  /** POST /start: open the start gate (the one write besides the migration). */
  start(): StartResult;
}
