import { GROUP, VERSION, type VirtualMachineMigrationStatus } from "../../api/index.js";
import { paths } from "../../kube/client.js";
import { putAction } from "./actions.js";
import type { CommonArgs, WaitArgs } from "./args.js";
import { CliError, EXIT } from "./errors.js";
import { fromKubeError, session } from "./kube.js";
import { renderMigration, transferRate } from "./progress.js";
import { getVm } from "./status.js";

const POLL_MS = 500;
const migrationPath = (ns: string, name: string) =>
  paths.custom(GROUP, VERSION, "virtualmachinemigrations", ns, name);

/** `kubectl vm migrate NAME [--wait]`. */
export async function runMigrate(
  args: CommonArgs & WaitArgs & { bandwidth?: string },
): Promise<number> {
  const s = session(args);
  try {
    const answer = await putAction(
      s,
      args.name,
      "migrate",
      args.bandwidth ? { bandwidth: args.bandwidth } : {},
    );
    const migration = answer.details?.name;
    console.log(answer.message ?? "migration created");
    if (!args.wait) return EXIT.ok;
    if (!migration)
      throw new CliError(EXIT.failed, "the server did not name the migration it created");
    const tty = process.stderr.isTTY;
    const deadline = Date.now() + args.timeoutMs;
    let lastLine = "";
    let lastPrinted = 0;
    let sample: { bytes: number; atMs: number } | undefined;
    let rate: number | undefined;
    for (;;) {
      const m = await s.client
        .get<{ status?: VirtualMachineMigrationStatus }>(migrationPath(s.namespace, migration))
        .catch(fromKubeError);
      const bytes = m.status?.progress?.dataProcessedBytes;
      if (bytes !== undefined) {
        const next = { bytes, atMs: Date.now() };
        if (!sample || bytes !== sample.bytes) {
          rate = transferRate(sample, next) ?? rate;
          sample = next;
        }
      }
      const line = renderMigration(migration, m.status, {
        ...(tty ? { columns: process.stderr.columns } : {}),
        ...(rate !== undefined ? { bytesPerSecond: rate } : {}),
      });
      const done = m.status?.phase === "Succeeded" || m.status?.phase === "Failed";
      // At a terminal the line is redrawn in place; in a log, printed when it changes, at
      // most once a second.
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (line !== lastLine && (done || Date.now() - lastPrinted >= 1000)) {
        process.stderr.write(`${line}\n`);
        lastPrinted = Date.now();
        lastLine = line;
      }
      if (done) {
        if (tty) process.stderr.write("\n");
        return m.status?.phase === "Succeeded" ? EXIT.ok : EXIT.failed;
      }
      if (Date.now() > deadline) {
        if (tty) process.stderr.write("\n");
        throw new CliError(
          EXIT.failed,
          `migration ${migration} still ${m.status?.phase ?? "Pending"} after the --timeout`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    s.client.close();
  }
}

/**
 * `kubectl vm migrate-cancel NAME`: delete the migration the VM is going through; the
 * operator cancels it on the source (the migration's finalizer) and the guest stays.
 */
export async function runMigrateCancel(args: CommonArgs): Promise<number> {
  const s = session(args);
  try {
    const vm = await getVm(s, args.name);
    const current = vm.status?.migration;
    if (!current || current.phase === "Succeeded" || current.phase === "Failed")
      throw new CliError(EXIT.failed, `VM ${args.name} has no migration in progress`);
    await s.client.delete(migrationPath(s.namespace, current.name)).catch(fromKubeError);
    console.log(`migration ${current.name} of VM ${args.name} cancelled`);
    return EXIT.ok;
  } finally {
    s.client.close();
  }
}
