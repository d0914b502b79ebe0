import { isIP } from "node:net";
import { z } from "zod";
import { GROUP } from "./common.js";

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

/**
 * Migration identities live under their own domain, which no launcher serving certificate
 * (`…launcher.kubevisor.io`) or operator client certificate can carry: each names one side of
 * one migration (by the migration's uid), so a certificate made for any other purpose or any
 * other migration never passes the target's authorization nor the source's host-name check.
 */
export const MIGRATION_TLS_DOMAIN = `migration.${GROUP}`;
export const migrationSourceName = (migrationUid: string) =>
  `source.${migrationUid}.${MIGRATION_TLS_DOMAIN}`;
export const migrationTargetName = (migrationUid: string) =>
  `target.${migrationUid}.${MIGRATION_TLS_DOMAIN}`;

const MIGRATION_NAME_RE = /^(source|target)\.[a-z0-9-]{1,63}\.migration\.kubevisor\.io$/;

const pem = (label: string) =>
  z
    .string()
    .max(16_384)
    .refine((s) => s.includes(`-----BEGIN ${label}-----`), {
      message: `must be PEM (${label})`,
    });

/** What the operator issues for one side of one migration (PEM), sent in the request. */
export const MigrationTlsMaterial = z.object({
  /** The CA both sides' certificates chain to (the operator CA). */
  caCertPem: pem("CERTIFICATE"),
  certPem: pem("CERTIFICATE"),
  keyPem: pem("PRIVATE KEY"),
});

export const TargetTls = MigrationTlsMaterial.extend({
  /** The one client the target admits: the source certificate's subject DN. */
  clientDn: z.string().refine((dn) => dn.startsWith("CN=") && MIGRATION_NAME_RE.test(dn.slice(3)), {
    message: `must be CN=source.<migration uid>.${MIGRATION_TLS_DOMAIN}`,
  }),
});
export type TargetTls = z.infer<typeof TargetTls>;

export const SourceTls = MigrationTlsMaterial.extend({
  /** The DNS name the target's certificate must carry. */
  serverName: z.string().regex(MIGRATION_NAME_RE, {
    message: `must be target.<migration uid>.${MIGRATION_TLS_DOMAIN}`,
  }),
});
export type SourceTls = z.infer<typeof SourceTls>;

export const IncomingRequest = z.object({
  /** Both sides must agree on post-copy before the stream starts. */
  postCopy: z.boolean().default(false),
  /** How long the target waits for the guest to arrive and run before giving up. */
  timeoutMs: z.number().int().positive().max(86_400_000).default(600_000),
  /** The RAM stream and the NBD exports accept only mutual TLS from `tls.clientDn`. */
  tls: TargetTls,
});
export type IncomingRequest = z.infer<typeof IncomingRequest>;
export type IncomingRequestInput = z.input<typeof IncomingRequest>;

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
  /**
   * The target pod's IP as the operator sees it in the pod's status: `migrationUri` and
   * `nbd` must point there (checkMigrationTarget), whatever the target answered.
   */
  targetIP: z.string().refine((ip) => isIP(ip) !== 0, { message: "must be an IP address" }),
  /** Both streams go over mutual TLS; the target must prove `tls.serverName`. */
  tls: SourceTls,
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

/** Where a source may send its guest: QEMU's `tcp:` transport to one address, nothing else. */
export interface MigrationTarget {
  host: string;
  port: number;
}

export class MigrationTargetError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "MigrationTargetError";
  }
}

/** The QEMU URI for a checked target: built from parts, never passed through as received. */
export function migrationUri(t: MigrationTarget): string {
  return isIP(t.host) === 6 ? `tcp:[${t.host}]:${t.port}` : `tcp:${t.host}:${t.port}`;
}

/**
 * Check a migration URI and NBD endpoint against the target pod's IP. QEMU's other transports
 * run commands (`exec:`), reach host files (`unix:`, `file:`), or take descriptors (`fd:`);
 * any of them, or `tcp:` to any other host, would hand the guest to whoever asked.
 */
export function checkMigrationTarget(req: {
  migrationUri: string;
  targetIP: string;
  nbd?: { host: string; port: number } | undefined;
}): MigrationTarget {
  const m = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(req.migrationUri);
  if (!m) {
    throw new MigrationTargetError(
      "migrationUri",
      `must be tcp:<target pod IP>:<port>, got "${req.migrationUri.slice(0, 100)}"`,
    );
  }
  const host = m[1] ?? m[2] ?? "";
  const port = Number(m[3]);
  if (isIP(host) === 0) throw new MigrationTargetError("migrationUri", `"${host}" is not an IP`);
  if (port < 1 || port > 65535) {
    throw new MigrationTargetError("migrationUri", `port ${port} is out of range`);
  }
  if (!sameIP(host, req.targetIP)) {
    throw new MigrationTargetError(
      "migrationUri",
      `points at ${host}, not at the target pod's IP ${req.targetIP}`,
    );
  }
  if (req.nbd && !sameIP(req.nbd.host, req.targetIP)) {
    throw new MigrationTargetError(
      "nbd.host",
      `${req.nbd.host} is not the target pod's IP ${req.targetIP}`,
    );
  }
  return { host, port };
}

function sameIP(a: string, b: string): boolean {
  if (isIP(a) === 0 || isIP(b) === 0) return false;
  // IPv6 has many spellings of one address; compare the expanded form.
  return isIP(a) === 6 && isIP(b) === 6 ? expand6(a) === expand6(b) : a === b;
}

function expand6(ip: string): string {
  const [head = "", tail] = ip.toLowerCase().split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => g.replace(/^0+(?=.)/, "")).join(":");
}
