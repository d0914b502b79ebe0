import type { LauncherStatus } from "../../api/launcher.js";
import type { SerialConsole } from "../../vmm/console.js";

/** What the launcher API reads from the running launcher; it changes nothing through it. */
export interface LauncherView {
  /** True only while this process runs the guest. */
  ready(): boolean;
  status(): Promise<LauncherStatus>;
  /** The guest's serial console while QEMU runs; undefined otherwise. */
  serialConsole(): SerialConsole | undefined;
}
