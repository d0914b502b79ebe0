import { z } from "zod";

/**
 * The live-migration part of the operator/launcher contract (src/launcher/api/migration.ts
 * serves it, src/operator/migration drives it). Paths live under MIGRATION_PATH; every
 * request carries JSON and every answer is LauncherMigrationState or IncomingAnswer.
 *
 *   POST   /migrate/incoming  target: listen for the guest          IncomingRequest → IncomingAnswer
 *   POST   /migrate           source: send the guest to the target  MigrateRequest  → state
 *   GET    /migrate           either side: where the migration is                     → state
 *   DELETE /migrate           source: cancel; the guest keeps running here            → state
 *
 * POST requests are idempotent: asking again (an operator restarted mid-way) answers what
 * is already under way instead of starting anything a second time.
 */
export const MIGRATION_PATH = "/migrate";
export const MIGRATION_INCOMING_PATH = `${MIGRATION_PATH}/incoming`;

export const NbdEndpoint = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

export const IncomingRequest = z.object({
  /** Both sides must agree on post-copy before the stream starts. */
  postCopy: z.boolean().default(false),
  /** How long the target waits for the guest to arrive and run before giving up. */
  timeoutMs: z.number().int().positive().max(86_400_000).default(600_000),
});
export type IncomingRequest = z.infer<typeof IncomingRequest>;

export const IncomingAnswer = z.object({
  /** QEMU's migration listener, `tcp:IP:PORT`, for the source's MigrateRequest. */
  migrationUri: z.string().min(1),
  /** Where the target serves its empty copies of the VM's local disks, when it has any. */
  nbd: NbdEndpoint.optional(),
  /** Disks (by index in the spec) the source must mirror into `nbd` before switching over. */
  diskIndexes: z.array(z.number().int().nonnegative()),
});
export type IncomingAnswer = z.infer<typeof IncomingAnswer>;

export const MigrateRequest = IncomingAnswer.extend({
  /** Bytes per second; unset means as fast as the network goes. */
  bandwidthBytesPerSec: z.number().int().positive().optional(),
  /** Longest acceptable stop-and-copy pause. */
  downtimeLimitMs: z.number().int().positive().max(60_000).optional(),
  autoConverge: z.boolean().default(false),
  postCopy: z.boolean().default(false),
  /** The source cancels by itself after this long (the operator also watches the clock). */
  timeoutMs: z.number().int().positive().max(86_400_000).default(600_000),
});
export type MigrateRequest = z.infer<typeof MigrateRequest>;
export type MigrateRequestInput = z.input<typeof MigrateRequest>;

export const LauncherMigrationPhase = z.enum([
  /** Nothing asked yet. */
  "None",
  /** Target: QEMU listens for the guest. */
  "Listening",
  /** Source: sending; target: receiving. */
  "Migrating",
  /** The guest runs on the target. */
  "Succeeded",
  "Failed",
  "Cancelled",
]);
export type LauncherMigrationPhase = z.infer<typeof LauncherMigrationPhase>;

export const LauncherMigrationState = z.object({
  role: z.enum(["source", "target"]),
  phase: LauncherMigrationPhase,
  /** Source: where it sends to; target: where it listens. */
  migrationUri: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  /** QEMU's own migration status (setup, active, device, completed, ...). */
  qemuStatus: z.string().optional(),
  dataTotalBytes: z.number().nonnegative().optional(),
  dataProcessedBytes: z.number().nonnegative().optional(),
  dataRemainingBytes: z.number().nonnegative().optional(),
  /** Source: mirroring local disks before the RAM stream, ms. */
  diskCopyMs: z.number().nonnegative().optional(),
  /** Source, once ended: QEMU's downtime figure (may be 0 on very fast migrations). */
  qemuDowntimeMs: z.number().nonnegative().optional(),
  /** Source, once ended: `migrate` issued until QEMU finished, by the launcher's clock. */
  totalTimeMs: z.number().nonnegative().optional(),
  /** Source: epoch ms its vCPUs stopped for the switch-over (QEMU STOP event). */
  sourceStoppedAtMs: z.number().optional(),
  /** Target: epoch ms the guest resumed here (QEMU RESUME event). */
  resumedAtMs: z.number().optional(),
  error: z.string().optional(),
});
export type LauncherMigrationState = z.infer<typeof LauncherMigrationState>;
