import type { LauncherStatus } from "../../api/launcher.js";
import type { SerialConsole } from "../../vmm/console.js";
import type { MigrationControl } from "../migration/control.js";

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
  /** Prometheus text of this VM's metrics (bounded: a stuck QEMU cannot hang it). */
  metrics(): Promise<string>;
  /** Live migration of this launcher's guest; undefined until the guest exists. */
  migration(): MigrationControl | undefined;
}
