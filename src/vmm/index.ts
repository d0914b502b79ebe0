/** The VMM layer's public surface; see README.md in this directory. */
export * from "./accel.js";
export * from "./agent.js";
export * from "./agent-status.js";
export {
  AGENT_PORT_ID,
  AGENT_PORT_NAME,
  buildQemuArgs,
  defaultCpuModel,
  diskNodeName,
  kernelCmdline,
  NETDEV_ID,
  validateGuestConfig,
} from "./cmdline.js";
export * from "./config.js";
export { type ConsoleAttachment, DEFAULT_CONSOLE_BUFFER, SerialConsole } from "./console.js";
export * from "./firmware.js";
export * from "./guest-image.js";
export * from "./guest-port.js";
export * from "./migration.js";
export * from "./migration-stats.js";
export type { SourceTls, TargetTls, TlsMaterial } from "./migration-tls.js";
export { DEFAULT_QEMU_BINARY } from "./process.js";
export { QmpClient, QmpClosedError, QmpError, type QmpEvent, QmpTimeoutError } from "./qmp.js";
export type * from "./qmp-commands.js";
export * from "./screen.js";
export * from "./stats.js";
export * from "./vm.js";
