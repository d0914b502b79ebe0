import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { GuestOutbound } from "../api/index.js";
import { quantityToBytes } from "../api/quantity.js";
import { type CertPolicy, DEFAULT_CERT_POLICY, policyProblem } from "./certs/rotation.js";
import { DEFAULT_MIGRATION_CONFIG } from "./migration/config.js";
import { DEFAULT_DECIDE_CONFIG } from "./vm/decide.js";

/** Everything `node dist/operator/main.js` can be told, from flags or environment. */
export interface OperatorConfig {
  /** Where the operator's own objects live: the CA Secret and the leader Lease. */
  namespace: string;
  /** The one Kubevisor image, run by launcher pods. */
  launcherImage: string;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  /** Pull Secrets (names, in each VM's namespace) launcher pods get: private registries. */
  imagePullSecrets: string[];
  /** Whether guests may open connections out of their pods; platform teams may deny it. */
  guestOutbound: GuestOutbound;
  /** Port for /metrics, /healthz and /readyz; 0 picks a free one. */
  httpPort: number;
  httpHost: string;
  leaderElection: boolean;
  workers: number;
  /** This replica's name in the leader Lease. */
  identity: string;
  /** A kubeconfig file; otherwise KUBECONFIG, then the in-cluster service account. */
  kubeconfig?: string;
  statusPollMs: number;
  /** Live migrations running at once, cluster-wide and leaving any one node. */
  parallelMigrationsPerCluster: number;
  parallelMigrationsPerNode: number;
  /** Create a NetworkPolicy per VM over its launcher pods. */
  networkPolicy: boolean;
  /** ... and from any one namespace (fairness between tenants). */
  parallelMigrationsPerNamespace: number;
  /** Admin bounds: a migration asking for more is clamped (with an Event). */
  migrationMaxBandwidthBytesPerSec?: number;
  migrationMaxCompletionTimeoutPerGiB: number;
  /** CA and leaf lifetimes, and how long a new CA spreads before it signs. */
  certificates: CertPolicy;
}

export class ConfigError extends Error {}

const PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;

export const USAGE = `Usage: node dist/operator/main.js [flags]

Flags (environment variable in brackets):
  --namespace NS            operator namespace: CA Secret, leader Lease [KUBEVISOR_NAMESPACE, POD_NAMESPACE]
                            (default kubevisor-system)
  --launcher-image IMAGE    image launcher pods run (required) [KUBEVISOR_LAUNCHER_IMAGE]
  --image-pull-policy P     Always | IfNotPresent | Never (default IfNotPresent) [KUBEVISOR_IMAGE_PULL_POLICY]
  --image-pull-secrets A,B  pull Secrets launcher pods name (must exist in each VM namespace)
                            [KUBEVISOR_IMAGE_PULL_SECRETS]
  --guest-outbound MODE     allow | deny: may guests open connections out of their pods (default allow)
                            [KUBEVISOR_GUEST_OUTBOUND]
  --http-port PORT          /metrics, /healthz, /readyz (default 8080) [KUBEVISOR_HTTP_PORT]
  --http-host HOST          listen address (default 0.0.0.0) [KUBEVISOR_HTTP_HOST]
  --leader-elect BOOL       leader election on a Lease (default true) [KUBEVISOR_LEADER_ELECT]
  --workers N               parallel reconciles (default 10) [KUBEVISOR_WORKERS]
  --identity NAME           name in the leader Lease (default POD_NAME, else host name + random)
  --kubeconfig FILE         kubeconfig (default KUBECONFIG, else in-cluster)
  --status-poll-seconds N   launcher /status poll interval while running (default 30)
  --parallel-migrations-per-cluster N   (default 5) [KUBEVISOR_PARALLEL_MIGRATIONS_PER_CLUSTER]
  --parallel-migrations-per-node N      (default 2) [KUBEVISOR_PARALLEL_MIGRATIONS_PER_NODE]
  --network-policy BOOL     a NetworkPolicy per VM over its launcher pods (default true) [KUBEVISOR_NETWORK_POLICY]
  --parallel-migrations-per-namespace N (default 3) [KUBEVISOR_PARALLEL_MIGRATIONS_PER_NAMESPACE]
  --migration-max-bandwidth Q           bytes/s cap any migration is clamped to, e.g. 1Gi
                                        (default none) [KUBEVISOR_MIGRATION_MAX_BANDWIDTH]
  --migration-max-completion-timeout-per-gib N
                                        (default 3600) [KUBEVISOR_MIGRATION_MAX_COMPLETION_TIMEOUT_PER_GIB]
  --ca-lifetime D           operator CA lifetime, e.g. 8760h (default 8760h = 1 year) [KUBEVISOR_CA_LIFETIME]
  --leaf-lifetime D         launcher, client and API server certificates (default 720h = 30 days)
                            [KUBEVISOR_LEAF_LIFETIME]
  --ca-propagation D        how long a new CA is in every trust bundle before it signs (default 5m)
                            [KUBEVISOR_CA_PROPAGATION]
                            Durations: a number with s, m, h or d. caLifetime must be at least
                            3 × (leafLifetime + 2 × propagation).
  --help`;

/** Pure: flags win over environment, environment over defaults. */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
): OperatorConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespace: { type: "string" },
      "launcher-image": { type: "string" },
      "image-pull-policy": { type: "string" },
      "image-pull-secrets": { type: "string" },
      "guest-outbound": { type: "string" },
      "http-port": { type: "string" },
      "http-host": { type: "string" },
      "leader-elect": { type: "string" },
      workers: { type: "string" },
      identity: { type: "string" },
      kubeconfig: { type: "string" },
      "status-poll-seconds": { type: "string" },
      "parallel-migrations-per-cluster": { type: "string" },
      "parallel-migrations-per-node": { type: "string" },
      "network-policy": { type: "string" },
      "parallel-migrations-per-namespace": { type: "string" },
      "migration-max-bandwidth": { type: "string" },
      "migration-max-completion-timeout-per-gib": { type: "string" },
      "ca-lifetime": { type: "string" },
      "leaf-lifetime": { type: "string" },
      "ca-propagation": { type: "string" },
    },
    strict: true,
  });
  const launcherImage = values["launcher-image"] ?? env.KUBEVISOR_LAUNCHER_IMAGE;
  if (!launcherImage)
    throw new ConfigError("--launcher-image (or KUBEVISOR_LAUNCHER_IMAGE) is required");
  const pullPolicy =
    values["image-pull-policy"] ?? env.KUBEVISOR_IMAGE_PULL_POLICY ?? "IfNotPresent";
  if (!(PULL_POLICIES as readonly string[]).includes(pullPolicy)) {
    throw new ConfigError(`--image-pull-policy must be one of ${PULL_POLICIES.join(", ")}`);
  }
  const outbound = GuestOutbound.safeParse(
    values["guest-outbound"] ?? env.KUBEVISOR_GUEST_OUTBOUND ?? "allow",
  );
  if (!outbound.success) {
    throw new ConfigError(`--guest-outbound must be one of ${GuestOutbound.options.join(", ")}`);
  }
  const kubeconfig = values.kubeconfig ?? env.KUBECONFIG;
  const maxBandwidth = values["migration-max-bandwidth"] ?? env.KUBEVISOR_MIGRATION_MAX_BANDWIDTH;
  const certificates: CertPolicy = {
    caLifetimeMs: duration(
      "--ca-lifetime",
      values["ca-lifetime"] ?? env.KUBEVISOR_CA_LIFETIME,
      DEFAULT_CERT_POLICY.caLifetimeMs,
    ),
    leafLifetimeMs: duration(
      "--leaf-lifetime",
      values["leaf-lifetime"] ?? env.KUBEVISOR_LEAF_LIFETIME,
      DEFAULT_CERT_POLICY.leafLifetimeMs,
    ),
    propagationMs: duration(
      "--ca-propagation",
      values["ca-propagation"] ?? env.KUBEVISOR_CA_PROPAGATION,
      DEFAULT_CERT_POLICY.propagationMs,
    ),
  };
  const certProblem = policyProblem(certificates);
  if (certProblem) throw new ConfigError(`certificates: ${certProblem}`);
  return {
    namespace:
      values.namespace ?? env.KUBEVISOR_NAMESPACE ?? env.POD_NAMESPACE ?? "kubevisor-system",
    launcherImage,
    imagePullPolicy: pullPolicy as OperatorConfig["imagePullPolicy"],
    imagePullSecrets: secretNames(
      "--image-pull-secrets",
      values["image-pull-secrets"] ?? env.KUBEVISOR_IMAGE_PULL_SECRETS ?? "",
    ),
    guestOutbound: outbound.data,
    httpPort: integer(
      "--http-port",
      values["http-port"] ?? env.KUBEVISOR_HTTP_PORT ?? "8080",
      0,
      65535,
    ),
    httpHost: values["http-host"] ?? env.KUBEVISOR_HTTP_HOST ?? "0.0.0.0",
    leaderElection: boolean(
      "--leader-elect",
      values["leader-elect"] ?? env.KUBEVISOR_LEADER_ELECT ?? "true",
    ),
    workers: integer("--workers", values.workers ?? env.KUBEVISOR_WORKERS ?? "10", 1, 256),
    identity: values.identity ?? env.POD_NAME ?? `${hostname()}-${randomBytes(4).toString("hex")}`,
    ...(kubeconfig ? { kubeconfig } : {}),
    statusPollMs:
      integer(
        "--status-poll-seconds",
        values["status-poll-seconds"] ?? String(DEFAULT_DECIDE_CONFIG.statusPollMs / 1000),
        1,
        3600,
      ) * 1000,
    parallelMigrationsPerCluster: integer(
      "--parallel-migrations-per-cluster",
      values["parallel-migrations-per-cluster"] ??
        env.KUBEVISOR_PARALLEL_MIGRATIONS_PER_CLUSTER ??
        String(DEFAULT_MIGRATION_CONFIG.parallelPerCluster),
      1,
      1000,
    ),
    parallelMigrationsPerNode: integer(
      "--parallel-migrations-per-node",
      values["parallel-migrations-per-node"] ??
        env.KUBEVISOR_PARALLEL_MIGRATIONS_PER_NODE ??
        String(DEFAULT_MIGRATION_CONFIG.parallelPerNode),
      1,
      1000,
    ),
    networkPolicy: boolean(
      "--network-policy",
      values["network-policy"] ?? env.KUBEVISOR_NETWORK_POLICY ?? "true",
    ),
    parallelMigrationsPerNamespace: integer(
      "--parallel-migrations-per-namespace",
      values["parallel-migrations-per-namespace"] ??
        env.KUBEVISOR_PARALLEL_MIGRATIONS_PER_NAMESPACE ??
        String(DEFAULT_MIGRATION_CONFIG.parallelPerNamespace),
      1,
      1000,
    ),
    ...(maxBandwidth
      ? {
          migrationMaxBandwidthBytesPerSec: bytesPerSecond(
            "--migration-max-bandwidth",
            maxBandwidth,
          ),
        }
      : {}),
    migrationMaxCompletionTimeoutPerGiB: integer(
      "--migration-max-completion-timeout-per-gib",
      values["migration-max-completion-timeout-per-gib"] ??
        env.KUBEVISOR_MIGRATION_MAX_COMPLETION_TIMEOUT_PER_GIB ??
        String(DEFAULT_MIGRATION_CONFIG.maxCompletionTimeoutPerGiB),
      1,
      86400,
    ),
    certificates,
  };
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration like `30s`, `5m`, `720h`, `365d`; `fallback` ms when unset. */
export function duration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m)
    throw new ConfigError(`${flag} must be a duration like 30s, 5m, 720h or 365d, got "${text}"`);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (!(ms > 0) && flag !== "--ca-propagation")
    throw new ConfigError(`${flag} must be longer than 0, got "${text}"`);
  return Math.round(ms);
}

function bytesPerSecond(flag: string, text: string): number {
  let n: number;
  try {
    n = quantityToBytes(text);
  } catch {
    n = Number.NaN;
  }
  if (!Number.isFinite(n) || n < 1)
    throw new ConfigError(
      `${flag} must be a positive quantity of bytes per second (e.g. 1Gi), got "${text}"`,
    );
  return Math.round(n);
}

/** A comma-separated list of Secret names (DNS subdomains); empty entries are dropped. */
function secretNames(flag: string, text: string): string[] {
  const names = text
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  for (const n of names) {
    if (n.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n))
      throw new ConfigError(`${flag}: "${n}" is not a valid Secret name`);
  }
  return [...new Set(names)];
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${flag} must be an integer in [${min}, ${max}], got "${text}"`);
  return n;
}

function boolean(flag: string, text: string): boolean {
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no)$/i.test(text)) return false;
  throw new ConfigError(`${flag} must be true or false, got "${text}"`);
}
