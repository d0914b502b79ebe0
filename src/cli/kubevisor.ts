#!/usr/bin/env node
/**
 * The `kubevisor` command. Each subcommand lives in its own module under ./commands and is
 * loaded only when invoked, so adding one is: write the module, add a line to COMMANDS.
 */

/** What a command module's default export provides. */
export interface Command {
  /** One line for `kubevisor --help`. */
  summary: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<{ default: Command }>> = {
  dev: () => import("./commands/dev.js"),
  local: () => import("./commands/local.js"),
};

async function usage(): Promise<string> {
  const lines = ["usage: kubevisor <command> [options]", "", "commands:"];
  for (const [name, load] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(10)} ${(await load()).default.summary}`);
  }
  lines.push("", "Run 'kubevisor <command> --help' for a command's options.");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`kubevisor: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  return await (await load()).default.run(rest);
}

// JSON logs are for services; at a terminal only warnings and errors are worth showing.
process.env.KUBEVISOR_LOG_LEVEL ??= "warn";

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // Our errors carry complete, user-facing messages; a stack only helps when debugging.
  const debug = process.env.KUBEVISOR_LOG_LEVEL === "debug";
  console.error(
    `kubevisor: ${err instanceof Error && !debug ? err.message : String((err as Error)?.stack ?? err)}`,
  );
  process.exitCode = 1;
}
