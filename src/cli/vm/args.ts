import { parseArgs } from "node:util";

/**
 * Exit codes scripts can rely on; the same for every subcommand.
 * 0 done · 1 the operation failed (migration Failed, connection lost for good, server error,
 * VM in the wrong state) · 2 usage error · 3 VM not found · 4 not allowed (401/403)
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, forbidden: 4 } as const;

export class UsageError extends Error {}

export const COMMANDS = ["console", "start", "stop", "restart", "migrate", "status"] as const;
export type CommandName = (typeof COMMANDS)[number];

const COMMON = `  -n, --namespace NS     namespace of the VM (default: the kubeconfig context's, else default)
      --kubeconfig FILE  kubeconfig (default: KUBECONFIG, else ~/.kube/config)
      --context NAME     kubeconfig context
  -h, --help             this help`;

export const EXIT_HELP = `Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 VM not found, 4 not allowed.`;

export const USAGE: Record<CommandName | "root", string> = {
  root: `Usage: kubectl vm COMMAND NAME [flags]

Commands:
  console NAME   attach to the VM's serial console
  start NAME     start the VM
  stop NAME      stop the VM
  restart NAME   restart the VM
  migrate NAME   live-migrate the VM to another node
  status NAME    show the VM's state

Run 'kubectl vm COMMAND --help' for a command's flags.
${EXIT_HELP}`,
  console: `Usage: kubectl vm console NAME [flags]

Attach to the serial console of VM NAME. At a terminal the console is raw: press Ctrl-] to
detach. With stdin not a terminal (a pipe), stdin is typed into the guest, output goes to
stdout, and the command ends --linger after stdin ends. Reconnects by itself when the
connection drops (a migration, a launcher restart) and keeps going.

Flags:
      --wait               wait until the VM runs before attaching
      --watch              read-only: see output, type nothing (needs only 'get' permission)
      --linger DURATION    pipe mode: how long to keep reading after stdin ends (default 2s)
      --timeout DURATION   give up reconnecting or --wait-ing after this long (default 5m)
${COMMON}
${EXIT_HELP}`,
  start: actionUsage(
    "start",
    "Start VM NAME (Halted → runStrategy Always; Manual/Once: a start request).",
  ),
  stop: actionUsage("stop", "Stop VM NAME (runStrategy → Halted; Manual/Once: a stop request)."),
  restart: actionUsage("restart", "Restart VM NAME: the guest is stopped and started again."),
  migrate: `Usage: kubectl vm migrate NAME [flags]

Live-migrate VM NAME to another node: creates a VirtualMachineMigration. With --wait, shows
progress (bytes transferred and remaining, then downtime and total time) and exits 0 when
the migration succeeded, 1 with its reason when it failed.

Flags:
      --wait               wait for the migration to finish, showing progress
      --bandwidth Q        bandwidth cap per second, e.g. 1Gi
      --timeout DURATION   with --wait: give up waiting after this long (default 30m)
${COMMON}
${EXIT_HELP}`,
  status: `Usage: kubectl vm status NAME [flags]

Show VM NAME's phase, node, IP address, accelerator, conditions and migration.

Flags:
${COMMON}
${EXIT_HELP}`,
};

function actionUsage(name: string, what: string): string {
  return `Usage: kubectl vm ${name} NAME [flags]\n\n${what}\n\nFlags:\n${COMMON}\n${EXIT_HELP}`;
}

export interface CommonArgs {
  name: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
}

export type Parsed =
  | { command: "help"; text: string }
  | ({
      command: "console";
      wait: boolean;
      watch: boolean;
      lingerMs: number;
      timeoutMs: number;
    } & CommonArgs)
  | ({ command: "start" | "stop" | "restart" | "status" } & CommonArgs)
  | ({ command: "migrate"; wait: boolean; bandwidth?: string; timeoutMs: number } & CommonArgs);

/** Pure: argv (after `kubectl vm`) → what to do; throws UsageError. */
export function parseCommand(argv: string[]): Parsed {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help")
    return { command: "help", text: USAGE.root };
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new UsageError(`unknown command "${command}"\n\n${USAGE.root}`);
  const name = command as CommandName;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE[name]}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: "help", text: USAGE[name] };
  if (positionals.length !== 1)
    throw new UsageError(`expected exactly one VM name\n\n${USAGE[name]}`);
  const allowed: Record<CommandName, string[]> = {
    console: ["wait", "watch", "linger", "timeout"],
    migrate: ["wait", "bandwidth", "timeout"],
    start: [],
    stop: [],
    restart: [],
    status: [],
  };
  const common = ["namespace", "kubeconfig", "context", "help"];
  for (const key of Object.keys(values)) {
    if (!common.includes(key) && !allowed[name].includes(key))
      throw new UsageError(`--${key} is not a flag of ${name}\n\n${USAGE[name]}`);
  }
  const base: CommonArgs = {
    name: positionals[0] ?? "",
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
  };
  if (name === "console") {
    return {
      command: name,
      ...base,
      wait: values.wait ?? false,
      watch: values.watch ?? false,
      lingerMs: duration("--linger", values.linger ?? "2s"),
      timeoutMs: duration("--timeout", values.timeout ?? "5m"),
    };
  }
  if (name === "migrate") {
    return {
      command: name,
      ...base,
      wait: values.wait ?? false,
      ...(values.bandwidth ? { bandwidth: values.bandwidth } : {}),
      timeoutMs: duration("--timeout", values.timeout ?? "30m"),
    };
  }
  return { command: name, ...base };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      namespace: { type: "string", short: "n" },
      kubeconfig: { type: "string" },
      context: { type: "string" },
      help: { type: "boolean", short: "h" },
      wait: { type: "boolean" },
      watch: { type: "boolean" },
      linger: { type: "string" },
      timeout: { type: "string" },
      bandwidth: { type: "string" },
    },
  });
}

/** Pure: `500ms`, `2s`, `5m`, `1h` (or plain seconds) → milliseconds. */
export function duration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m?.[1]) throw new UsageError(`${flag}: not a duration: "${text}" (e.g. 500ms, 2s, 5m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms"];
  return Math.round(Number(m[1]) * unit);
}
