#!/usr/bin/env node
/**
 * `kubectl-vm`: the kubectl plugin (`kubectl vm ...` once it is on PATH), usable standalone.
 * Talks to the cluster with the user's kubeconfig only; Kubernetes RBAC decides.
 */
import { EXIT, parseCommand, UsageError } from "./vm/args.js";
import { CliError } from "./vm/kube.js";

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv);
  switch (parsed.command) {
    case "help":
      console.log(parsed.text);
      return EXIT.ok;
    case "console":
      return (await import("./vm/console.js")).runConsole(parsed);
    case "migrate":
      return (await import("./vm/migrate.js")).runMigrate(parsed);
    case "status":
      return (await import("./vm/status.js")).runStatus(parsed);
    default:
      return (await import("./vm/actions.js")).runAction(parsed, parsed.command);
  }
}

// JSON logs are for services; a command prints for people.
process.env.KUBEVISOR_LOG_LEVEL ??= "warn";

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`kubectl vm: ${err.message}`);
    process.exitCode = EXIT.usage;
  } else if (err instanceof CliError) {
    console.error(`kubectl vm: ${err.message}`);
    process.exitCode = err.exitCode;
  } else {
    console.error(`kubectl vm: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = EXIT.failed;
  }
}
// Open handles (keep-alive agents, stdin) must not keep a finished command alive.
setImmediate(() => process.exit());
