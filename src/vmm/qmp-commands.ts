/**
 * The QMP commands and events this project uses, as closed maps: command name → argument
 * type → return type, event name → data type (QEMU 7.2's QAPI schema, the members we
 * read or send). A command outside the map does not compile; add it here with its types.
 */
import type { QmpMigrationInfo } from "./migration-stats.js";

export type Empty = Record<string, never>;

/** QEMU's RunState. */
export type RunState =
  | "debug"
  | "finish-migrate"
  | "inmigrate"
  | "internal-error"
  | "io-error"
  | "paused"
  | "postmigrate"
  | "prelaunch"
  | "restore-vm"
  | "running"
  | "save-vm"
  | "shutdown"
  | "suspended"
  | "watchdog"
  | "guest-panicked"
  | "colo";

export type MigrationStatus =
  | "none"
  | "setup"
  | "cancelling"
  | "cancelled"
  | "active"
  | "postcopy-active"
  | "postcopy-paused"
  | "postcopy-recover"
  | "completed"
  | "failed"
  | "colo"
  | "pre-switchover"
  | "device"
  | "wait-unplug";

export type MigrationCapability =
  | "events"
  | "auto-converge"
  | "postcopy-ram"
  | "pause-before-switchover"
  | "multifd"
  | "zero-copy-send"
  | "late-block-activate"
  | "return-path";

/** `migrate-set-parameters` members we set (all optional, as in QEMU). */
export interface MigrateSetParameters {
  "max-bandwidth"?: number;
  "downtime-limit"?: number;
  "multifd-channels"?: number;
  "max-postcopy-bandwidth"?: number;
  /** TLS on the migration stream ("" turns it off): see migration-tls.ts. */
  "tls-creds"?: string;
  "tls-hostname"?: string;
  "tls-authz"?: string;
}

/** `object-add` for the objects we create: migration TLS credentials and their authz. */
export type QmpObject =
  | {
      "qom-type": "tls-creds-x509";
      id: string;
      dir: string;
      endpoint: "server" | "client";
      "verify-peer": boolean;
    }
  | { "qom-type": "authz-simple"; id: string; identity: string };

export interface InetSocketAddress {
  host: string;
  port: string;
}

export interface BlockJobInfo {
  type: string;
  device: string;
  len: number;
  offset: number;
  busy: boolean;
  paused: boolean;
  speed: number;
  ready: boolean;
  status: string;
}

/** One entry of `query-named-block-nodes` (BlockDeviceInfo), the members we read. */
export interface BlockNodeInfo {
  "node-name": string;
  file: string;
  ro: boolean;
  drv: string;
}

/** The data of BLOCK_JOB_READY / _COMPLETED / _CANCELLED. */
export interface BlockJobEventData {
  type: string;
  device: string;
  len: number;
  offset: number;
  speed: number;
  /** Only on BLOCK_JOB_COMPLETED, when the job failed. */
  error?: string;
}

/** BlockDeviceStats of `query-blockstats`, the members metrics read. */
export interface BlockDeviceStats {
  rd_bytes: number;
  wr_bytes: number;
  rd_operations: number;
  wr_operations: number;
  flush_operations: number;
  rd_total_time_ns: number;
  wr_total_time_ns: number;
  flush_total_time_ns: number;
}

/** One entry of `query-blockstats`: a block backend (our disks: `qdev` set, `device` ""). */
export interface BlockStats {
  device?: string;
  "node-name"?: string;
  qdev?: string;
  stats: BlockDeviceStats;
}

/** One entry of `query-cpus-fast`: a vCPU and the host thread that runs it. */
export interface CpuInfoFast {
  "cpu-index": number;
  "thread-id": number;
}

/** What a command takes and returns; `args: undefined` means it takes none. */
export interface Cmd<A, R> {
  args: A;
  ret: R;
}

export interface QmpCommands {
  qmp_capabilities: Cmd<{ enable?: string[] } | undefined, Empty>;
  "query-status": Cmd<undefined, { status: RunState; running: boolean; singlestep: boolean }>;
  cont: Cmd<undefined, Empty>;
  stop: Cmd<undefined, Empty>;
  system_powerdown: Cmd<undefined, Empty>;
  system_reset: Cmd<undefined, Empty>;
  quit: Cmd<undefined, Empty>;
  /** The current screen to a file QEMU writes (`format` since QEMU 7.1; Debian 12 has 7.2). */
  screendump: Cmd<
    { filename: string; device?: string; head?: number; format?: "ppm" | "png" },
    Empty
  >;
  /** HMP passthrough; used only for what QMP lacks (hostfwd_add/remove in 7.2). */
  "human-monitor-command": Cmd<{ "command-line": string; "cpu-index"?: number }, string>;

  "migrate-set-capabilities": Cmd<
    { capabilities: { capability: MigrationCapability; state: boolean }[] },
    Empty
  >;
  "migrate-set-parameters": Cmd<MigrateSetParameters, Empty>;
  migrate: Cmd<{ uri: string }, Empty>;
  "migrate-incoming": Cmd<{ uri: string }, Empty>;
  "query-migrate": Cmd<undefined, QmpMigrationInfo>;
  migrate_cancel: Cmd<undefined, Empty>;
  "migrate-continue": Cmd<{ state: MigrationStatus }, Empty>;
  "migrate-start-postcopy": Cmd<undefined, Empty>;

  "object-add": Cmd<QmpObject, Empty>;
  "object-del": Cmd<{ id: string }, Empty>;
  "nbd-server-start": Cmd<
    {
      addr: { type: "inet"; data: InetSocketAddress };
      "tls-creds"?: string;
      "tls-authz"?: string;
    },
    Empty
  >;
  "nbd-server-stop": Cmd<undefined, Empty>;
  "block-export-add": Cmd<
    { type: "nbd"; id: string; "node-name": string; name?: string; writable?: boolean },
    Empty
  >;
  "block-export-del": Cmd<{ id: string; mode?: "safe" | "hard" }, Empty>;
  "blockdev-add": Cmd<
    {
      driver: "nbd";
      "node-name": string;
      server: { type: "inet" } & InetSocketAddress;
      export: string;
      "tls-creds"?: string;
      "tls-hostname"?: string;
    },
    Empty
  >;
  "blockdev-del": Cmd<{ "node-name": string }, Empty>;
  "blockdev-mirror": Cmd<
    {
      "job-id": string;
      device: string;
      target: string;
      sync: "top" | "full" | "none";
      "copy-mode"?: "background" | "write-blocking";
    },
    Empty
  >;
  "block-job-cancel": Cmd<{ device: string; force?: boolean }, Empty>;
  "query-block-jobs": Cmd<undefined, BlockJobInfo[]>;
  "query-named-block-nodes": Cmd<{ flat?: boolean } | undefined, BlockNodeInfo[]>;

  // Read by the launcher's /metrics (stats.ts), each call bounded by a short timeout.
  "query-blockstats": Cmd<{ "query-nodes"?: boolean } | undefined, BlockStats[]>;
  "query-cpus-fast": Cmd<undefined, CpuInfoFast[]>;
  "query-memory-size-summary": Cmd<undefined, { "base-memory": number; "plugged-memory"?: number }>;
}

export interface QmpEvents {
  SHUTDOWN: { guest: boolean; reason: string };
  POWERDOWN: Empty;
  RESET: { guest: boolean; reason: string };
  STOP: Empty;
  RESUME: Empty;
  GUEST_PANICKED: { action: "pause" | "poweroff" | "run"; info?: Record<string, unknown> };
  /** A virtio-serial port opened or closed by the guest (`id` is the port device's id). */
  VSERPORT_CHANGE: { id: string; open: boolean };
  MIGRATION: { status: MigrationStatus };
  MIGRATION_PASS: { pass: number };
  BLOCK_JOB_READY: BlockJobEventData;
  BLOCK_JOB_COMPLETED: BlockJobEventData;
  BLOCK_JOB_CANCELLED: BlockJobEventData;
}

export type QmpCommandName = keyof QmpCommands;
export type QmpEventName = keyof QmpEvents;

/** A command map's shape, shared with the guest agent's. */
export type CommandMap = Record<string, { args: unknown; ret: unknown }>;

export interface ExecuteOptions {
  timeoutMs?: number;
}

/**
 * The parameters after the command name: no arguments, optional ones (every member
 * optional), or required ones.
 */
export type ArgsParams<A> = [A] extends [undefined]
  ? [args?: undefined, opts?: ExecuteOptions]
  : undefined extends A
    ? [args?: A, opts?: ExecuteOptions]
    : Empty extends A
      ? [args?: A, opts?: ExecuteOptions]
      : [args: A, opts?: ExecuteOptions];
