/** What the QEMU command-line tests share: launch options and a flag's values in argv. */
import type { LaunchOptions } from "../../../src/vmm/config.js";

export const launch: LaunchOptions = {
  accel: "tcg",
  qmpSocket: "/run/vm/qmp.sock",
  serialSocket: "/run/vm/serial.sock",
  startPaused: true,
  incoming: false,
  exitOnReboot: false,
};

/** The value following `flag`, for every occurrence. */
export function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ""] : []));
}
