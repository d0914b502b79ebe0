/** Knobs of the migration controller; the defaults follow KubeVirt's where it has one. */
export interface MigrationConfig {
  /** Migrations in Scheduling/TargetReady/Running at once, cluster-wide. */
  parallelPerCluster: number;
  /** ... and leaving any one node. */
  parallelPerNode: number;
  /** How often a running migration's progress is read from the source launcher. */
  pollMs: number;
  /** No new bytes moved for this long: the migration cannot converge; cancel it. */
  progressTimeoutMs: number;
  /** When the migration does not say: seconds allowed per GiB of guest memory. */
  completionTimeoutPerGiB: number;
  /** The target pod may stay unschedulable this long before the migration fails. */
  targetScheduleTimeoutMs: number;
  /** Evacuations of one launcher pod tried before the drain is left blocked. */
  evacuationAttempts: number;
}

export const DEFAULT_MIGRATION_CONFIG: MigrationConfig = {
  parallelPerCluster: 5,
  parallelPerNode: 2,
  pollMs: 1000,
  progressTimeoutMs: 150_000,
  completionTimeoutPerGiB: 150,
  targetScheduleTimeoutMs: 300_000,
  evacuationAttempts: 3,
};
