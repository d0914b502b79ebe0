import { GROUP, VERSION, type VirtualMachineMigrationStatus } from "../../api/index.js";
import { paths } from "../../kube/client.js";
import { putAction } from "./actions.js";
import { EXIT } from "./args.js";
import { CliError, fromKubeError, session } from "./kube.js";
import { renderMigration } from "./progress.js";

const POLL_MS = 500;

/** `kubectl vm migrate NAME [--wait]`. */
export async function runMigrate(args: {
  name: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  wait: boolean;
  bandwidth?: string;
  timeoutMs: number;
}): Promise<number> {
  const answer = await putAction(
    args,
    "migrate",
    args.bandwidth ? { bandwidth: args.bandwidth } : {},
  );
  const migration = answer.details?.name;
  console.log(answer.message ?? "migration created");
  if (!args.wait) return EXIT.ok;
  if (!migration)
    throw new CliError(EXIT.failed, "the server did not name the migration it created");

  const s = session(args);
  const path = paths.custom(GROUP, VERSION, "virtualmachinemigrations", s.namespace, migration);
  const tty = process.stderr.isTTY;
  const deadline = Date.now() + args.timeoutMs;
  let lastLine = "";
  let lastPrinted = 0;
  try {
    for (;;) {
      const m = await s.client
        .get<{ status?: VirtualMachineMigrationStatus }>(path)
        .catch(fromKubeError);
      const line = renderMigration(migration, m.status);
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
