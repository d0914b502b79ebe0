/** Knobs of the migration controller; the defaults follow KubeVirt's where it has one. */
export interface MigrationConfig {
  /** Migrations in Scheduling/TargetReady/Running at once, cluster-wide. */
  parallelPerCluster: number;
  /** ... and leaving any one node. */
  parallelPerNode: number;
  /** ... and from any one namespace: one tenant cannot take every cluster slot. */
  parallelPerNamespace: number;
  /** How often a running migration's progress is read from the source launcher. */
  pollMs: number;
  /** No new bytes moved for this long: the migration cannot converge; cancel it. */
  progressTimeoutMs: number;
  /** When the migration does not say: seconds allowed per GiB of guest memory. */
  completionTimeoutPerGiB: number;
  /** Admin bound: a migration asking for more seconds per GiB is clamped to this. */
  maxCompletionTimeoutPerGiB: number;
  /** Admin bound, bytes/s: a migration asking for more (or for no cap) is clamped to this. */
  maxBandwidthBytesPerSec?: number;
  /** The target pod may take this long (from admission) to wait for the guest. */
  targetScheduleTimeoutMs: number;
  /**
   * The guest left the source (non post-copy): the target must confirm it runs it within
   * this long, else the migration ends TargetLost.
   */
  switchoverTimeoutMs: number;
  /** A cancel the source has not carried out after this long: the target is killed instead. */
  cancelGraceMs: number;
  /** A live source launcher that does not answer for this long: the migration is abandoned. */
  sourceSilenceTimeoutMs: number;
  /** Evacuations of one launcher pod tried before the drain is left blocked. */
  evacuationAttempts: number;
}

export const DEFAULT_MIGRATION_CONFIG: MigrationConfig = {
  parallelPerCluster: 5,
  parallelPerNode: 2,
  parallelPerNamespace: 3,
  pollMs: 1000,
  progressTimeoutMs: 150_000,
  completionTimeoutPerGiB: 150,
  maxCompletionTimeoutPerGiB: 3600,
  targetScheduleTimeoutMs: 300_000,
  switchoverTimeoutMs: 60_000,
  cancelGraceMs: 60_000,
  sourceSilenceTimeoutMs: 60_000,
  evacuationAttempts: 3,
};
