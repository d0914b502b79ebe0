#!/usr/bin/env node
/**
 * `kubectl-vm`: the kubectl plugin (`kubectl vm ...` once it is on PATH), usable standalone.
 * Talks to the cluster with the user's kubeconfig only; Kubernetes RBAC decides. Only the
 * argument parser loads up front: --help and usage errors answer before any client code
 * (client-node, ws) is read.
 */
import { parseCommand } from "./vm/args.js";
import { CliError, EXIT, UsageError } from "./vm/errors.js";

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv);
  if (parsed.command === "help") {
    console.log(parsed.text);
    return EXIT.ok;
  }
  const run = await import("./vm/commands.js");
  switch (parsed.command) {
    case "console":
      return run.runConsole(parsed);
    case "migrate":
      return run.runMigrate(parsed);
    case "migrate-cancel":
      return run.runMigrateCancel(parsed);
    case "status":
      return run.runStatus(parsed);
    case "list":
      return run.runList(parsed);
    case "ui":
      return run.runUi(parsed);
    case "pause":
    case "unpause":
      return run.runGuestAction(parsed, parsed.command);
    case "vnc":
      return run.runVnc(parsed);
    case "port-forward":
      return run.runPortForward(parsed);
    case "ssh":
      return run.runSsh(parsed);
    default:
      return run.runAction(parsed, parsed.command);
  }
}

// JSON logs are for services; a command prints for people.
process.env.KUBEVISOR_LOG_LEVEL ??= "warn";

// No top-level await: the single-file build is CommonJS, so it runs without a package.json.
main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    const exit =
      err instanceof UsageError ? EXIT.usage : err instanceof CliError ? err.exitCode : EXIT.failed;
    console.error(`kubectl vm: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = exit;
  })
  // Open handles (keep-alive agents, stdin) must not keep a finished command alive.
  .finally(() => setImmediate(() => process.exit()));
