import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

export { EXIT, UsageError } from "./errors.js";

/**
 * kubectl-vm's command line as data: every flag once (name, type, help), every command with
 * the flags it takes. The parser, the help texts and shell completion all read these tables,
 * so they cannot disagree. Flags may stand anywhere on the line, as with kubectl
 * (`kubectl vm -n ns console demo`).
 */
interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in help, e.g. NS. */
  arg?: string;
  help: string;
}

/** The flags users type to kubectl by habit; they mean the same here. */
const GLOBAL_FLAGS = {
  namespace: {
    type: "string",
    short: "n",
    arg: "NS",
    help: "namespace (default: the kubeconfig context's, else default)",
  },
  kubeconfig: {
    type: "string",
    arg: "FILE",
    help: "kubeconfig (default: KUBECONFIG, else ~/.kube/config)",
  },
  context: { type: "string", arg: "NAME", help: "kubeconfig context" },
  server: { type: "string", short: "s", arg: "URL", help: "API server address" },
  token: { type: "string", arg: "TOKEN", help: "bearer token" },
  "insecure-skip-tls-verify": {
    type: "boolean",
    help: "do not verify the server's certificate (insecure)",
  },
  as: { type: "string", arg: "USER", help: "impersonate USER" },
  "as-group": { type: "string", multiple: true, arg: "GROUP", help: "impersonate GROUP (repeat)" },
  "request-timeout": {
    type: "string",
    arg: "DURATION",
    help: "give up on one API request after this long (default 30s)",
  },
  help: { type: "boolean", short: "h", help: "this help" },
} as const satisfies Record<string, FlagSpec>;

const COMMAND_FLAGS = {
  wait: { type: "boolean", help: "wait until done" },
  watch: { type: "boolean", help: "read-only: see output, type nothing (needs only 'get')" },
  linger: {
    type: "string",
    arg: "DURATION",
    help: "pipe mode: keep reading this long after stdin ends (default 2s)",
  },
  timeout: { type: "string", arg: "DURATION", help: "with --wait: give up after this long" },
  bandwidth: { type: "string", arg: "Q", help: "bandwidth cap per second, e.g. 1Gi" },
  output: { type: "string", short: "o", arg: "FORMAT", help: "json, yaml or wide" },
  "all-namespaces": { type: "boolean", short: "A", help: "VMs of every namespace" },
  port: {
    type: "string",
    short: "p",
    arg: "PORT",
    help: "local port on 127.0.0.1 (default: a free one)",
  },
  stdio: { type: "boolean", help: "one connection on stdin/stdout (ssh ProxyCommand)" },
  "ssh-port": { type: "string", arg: "PORT", help: "the guest's SSH port (default 22)" },
  viewer: {
    type: "string",
    arg: "CMD",
    help: "start this VNC viewer on the local port (%h, %p: host, port)",
  },
  "no-browser": { type: "boolean", help: "print the URL only; do not open a browser" },
} as const satisfies Record<string, FlagSpec>;

export const FLAGS: Record<string, FlagSpec> = { ...GLOBAL_FLAGS, ...COMMAND_FLAGS };
type CommandFlag = keyof typeof COMMAND_FLAGS;

interface CommandSpec {
  /** Whether the command takes a VM name. */
  takesName: boolean;
  flags: readonly CommandFlag[];
  summary: string;
  /** Longer text for `kubectl vm COMMAND --help`. */
  about: string;
  /** Default --timeout. */
  timeout?: string;
}

export const COMMAND_SPECS = {
  list: {
    takesName: false,
    flags: ["output", "all-namespaces"],
    summary: "list VMs with phase, node, accelerator and IP",
    about: "List the VMs of the namespace (or every namespace with -A).",
  },
  status: {
    takesName: true,
    flags: ["output"],
    summary: "show the VM's state",
    about: "Show VM NAME's phase, node, IP address, accelerator, conditions and migration.",
  },
  console: {
    takesName: true,
    flags: ["wait", "watch", "linger", "timeout"],
    summary: "attach to the VM's serial console",
    timeout: "5m",
    about: `Attach to the serial console of VM NAME. At a terminal the console is raw: press Ctrl-] to
detach. With stdin not a terminal (a pipe), stdin is typed into the guest, output goes to
stdout, and the command ends --linger after stdin ends. Reconnects by itself when the
connection drops (a migration, a launcher restart) and keeps going; --timeout bounds
reconnecting and --wait-ing for the VM to run.`,
  },
  start: {
    takesName: true,
    flags: ["wait", "timeout"],
    summary: "start the VM",
    timeout: "5m",
    about: `Start VM NAME (Halted → runStrategy Always; Manual/Once: a start request).
With --wait, returns once the VM is Running.`,
  },
  stop: {
    takesName: true,
    flags: ["wait", "timeout"],
    summary: "stop the VM",
    timeout: "5m",
    about: `Stop VM NAME (runStrategy → Halted; Manual/Once: a stop request).
With --wait, returns once the guest is down.`,
  },
  restart: {
    takesName: true,
    flags: ["wait", "timeout"],
    summary: "restart the VM",
    timeout: "5m",
    about: `Restart VM NAME: the guest is stopped and started again in a new launcher pod.
With --wait, returns once the restarted VM is Running.`,
  },
  migrate: {
    takesName: true,
    flags: ["wait", "bandwidth", "timeout"],
    summary: "live-migrate the VM to another node",
    timeout: "30m",
    about: `Live-migrate VM NAME to another node: creates a VirtualMachineMigration. With --wait, shows
progress (transferred, remaining, rate and time left; then downtime and total time) and
exits 0 when the migration succeeded, 1 with its reason when it failed.`,
  },
  "migrate-cancel": {
    takesName: true,
    flags: [],
    summary: "cancel the VM's migration in progress",
    about: `Cancel the migration VM NAME is going through: its VirtualMachineMigration is deleted and
the guest stays where it runs.`,
  },
  ui: {
    takesName: false,
    flags: ["port", "no-browser"],
    summary: "open the web UI, served on 127.0.0.1 with your credentials",
    about: `Serve the web UI on 127.0.0.1 and open it in a browser. The UI reaches the cluster with your
kubeconfig's credentials (like kubectl proxy), so it can do what you can. The URL printed
carries a one-time token: only the browser that opens it first gets a session, so other
local users and other web pages cannot use the UI. Runs until interrupted (Ctrl-C).`,
  },
  pause: {
    takesName: true,
    flags: [],
    summary: "pause the VM's guest (its vCPUs stop)",
    about: `Pause VM NAME: its launcher stops the guest's vCPUs (QMP stop). The guest keeps its memory
and devices and stays on its node; time stands still for it until 'kubectl vm unpause'.
A paused VM cannot be migrated.`,
  },
  unpause: {
    takesName: true,
    flags: [],
    summary: "resume a paused VM's guest",
    about: "Resume the vCPUs of VM NAME, paused by 'kubectl vm pause'.",
  },
  "port-forward": {
    takesName: true,
    flags: ["stdio"],
    summary: "forward a local port to a port of the VM's guest",
    about: `kubectl vm port-forward NAME LOCAL:GUEST — listen on 127.0.0.1:LOCAL (0: a free port) and
tunnel each connection to the guest's TCP port GUEST through the Kubernetes API (RBAC:
update on virtualmachines/portforward). No pod IP needs to be reachable. Runs until
Ctrl-C. (--stdio NAME GUEST: one connection on stdin/stdout, for ssh's ProxyCommand.)`,
  },
  ssh: {
    takesName: true,
    flags: ["ssh-port"],
    summary: "ssh into the VM's guest through the API",
    about: `kubectl vm ssh [USER@]NAME [-- SSH ARGS] — run the system ssh with a ProxyCommand that
tunnels to the guest's port 22 (--ssh-port) through the Kubernetes API. Keys, agent and
options are your own; arguments after -- go to ssh (e.g. a command to run).`,
  },
  vnc: {
    takesName: true,
    flags: ["port", "viewer"],
    summary: "open the VM's graphical console for a VNC viewer",
    about: `Open a local port on 127.0.0.1 carrying VM NAME's display (VNC), through the Kubernetes API
(RBAC: update on virtualmachines/vnc). Prints the address; with --viewer, starts that
viewer on it (e.g. --viewer vncviewer: the address is appended as 127.0.0.1::PORT, or
placed where %h and %p stand) and ends when it exits; else runs until Ctrl-C. Each
viewer connection is its own session; after a live migration a viewer reconnects to
the same port and lands on the VM's new node.`,
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMAND_SPECS;
export const COMMANDS = Object.keys(COMMAND_SPECS) as CommandName[];

/** Connection settings beyond the kubeconfig, as kubectl's flags give them. */
export interface ConnectionArgs {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  server?: string;
  token?: string;
  insecureSkipTlsVerify?: boolean;
  as?: string;
  asGroups?: string[];
  requestTimeoutMs?: number;
}

export interface CommonArgs extends ConnectionArgs {
  name: string;
}

export type OutputFormat = "json" | "yaml" | "wide";
export type WaitArgs = { wait: boolean; timeoutMs: number };

export type Parsed =
  | { command: "help"; text: string }
  | ({ command: "list"; output?: OutputFormat; allNamespaces: boolean } & ConnectionArgs)
  | ({ command: "status"; output?: OutputFormat } & CommonArgs)
  | ({ command: "console"; watch: boolean; lingerMs: number } & WaitArgs & CommonArgs)
  | ({ command: "start" | "stop" | "restart" } & WaitArgs & CommonArgs)
  | ({ command: "migrate"; bandwidth?: string } & WaitArgs & CommonArgs)
  | ({ command: "migrate-cancel" | "pause" | "unpause" } & CommonArgs)
  | ({ command: "ui"; port?: number; noBrowser: boolean } & ConnectionArgs)
  | ({ command: "vnc"; port: number; viewer?: string } & CommonArgs)
  | ({ command: "port-forward"; localPort: number; guestPort: number; stdio: boolean } & CommonArgs)
  | ({ command: "ssh"; user?: string; port: number; sshArgs: string[] } & CommonArgs);

export const EXIT_HELP =
  "Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 VM not found, 4 not allowed.";

function flagLines(names: readonly string[]): string {
  return names
    .map((n) => {
      const f = FLAGS[n] as FlagSpec;
      const left = `${f.short ? `-${f.short}, ` : "    "}--${n}${f.arg ? ` ${f.arg}` : ""}`;
      return `  ${left.padEnd(34)} ${f.help}`;
    })
    .join("\n");
}

export function usage(command?: CommandName): string {
  if (!command) {
    const cmds = COMMANDS.map((c) => {
      const spec: CommandSpec = COMMAND_SPECS[c];
      return `  ${`${c}${spec.takesName ? " NAME" : ""}`.padEnd(20)} ${spec.summary}`;
    }).join("\n");
    return `Usage: kubectl vm COMMAND [NAME] [flags]

Commands:
${cmds}

Flags for every command:
${flagLines(Object.keys(GLOBAL_FLAGS))}

Run 'kubectl vm COMMAND --help' for a command's flags.
${EXIT_HELP}`;
  }
  const spec: CommandSpec = COMMAND_SPECS[command];
  const own = spec.flags.length ? `\nFlags:\n${flagLines(spec.flags)}\n` : "";
  return `Usage: kubectl vm ${command}${spec.takesName ? " NAME" : ""} [flags]

${spec.about}
${own}
Flags for every command:
${flagLines(Object.keys(GLOBAL_FLAGS))}
${EXIT_HELP}`;
}

/** Pure: argv (after `kubectl vm`) → what to do; throws UsageError naming the problem. */
export function parseCommand(argvIn: string[]): Parsed {
  // Everything after "--" belongs to ssh, never to us.
  const dash = argvIn.indexOf("--");
  const argv = dash >= 0 ? argvIn.slice(0, dash) : argvIn;
  const sshArgs = dash >= 0 ? argvIn.slice(dash + 1) : [];
  let parsed: ReturnType<typeof parseAll>;
  try {
    parsed = parseAll(argv);
  } catch (err) {
    const command = argv.find((a) => (COMMANDS as string[]).includes(a)) as CommandName | undefined;
    throw new UsageError(`${(err as Error).message}\n\n${usage(command)}`);
  }
  const { values, positionals } = parsed;
  const [word, ...rest] = positionals;
  // port-forward's second word is LOCAL:GUEST (or, with --stdio, the guest port); ssh's
  // words after "--" are ssh's own.
  const extra = word === "port-forward" ? rest.slice(1, 2) : [];
  const names = word === "port-forward" ? rest.slice(0, 1).concat(rest.slice(2)) : rest;
  if (word === undefined || word === "help") {
    const topic = names[0] as CommandName | undefined;
    return { command: "help", text: usage(topic && topic in COMMAND_SPECS ? topic : undefined) };
  }
  if (!(word in COMMAND_SPECS)) throw new UsageError(`unknown command "${word}"\n\n${usage()}`);
  const command = word as CommandName;
  if (values.help) return { command: "help", text: usage(command) };
  const spec: CommandSpec = COMMAND_SPECS[command];
  for (const key of Object.keys(values)) {
    if (key in COMMAND_FLAGS && !spec.flags.includes(key as CommandFlag))
      throw new UsageError(`--${key} is not a flag of ${command}\n\n${usage(command)}`);
  }
  if (spec.takesName && names.length !== 1)
    throw new UsageError(`expected exactly one VM name\n\n${usage(command)}`);
  if (!spec.takesName && names.length > 0)
    throw new UsageError(`${command} takes no VM name\n\n${usage(command)}`);

  const conn: ConnectionArgs = {
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(values.server ? { server: values.server } : {}),
    ...(values.token ? { token: values.token } : {}),
    ...(values["insecure-skip-tls-verify"] ? { insecureSkipTlsVerify: true } : {}),
    ...(values.as ? { as: values.as } : {}),
    ...(values["as-group"]?.length ? { asGroups: values["as-group"] } : {}),
    ...(values["request-timeout"]
      ? { requestTimeoutMs: duration("--request-timeout", values["request-timeout"]) }
      : {}),
  };
  const output = values.output === undefined ? undefined : outputFormat(values.output);
  const wait = {
    wait: values.wait ?? false,
    timeoutMs: duration("--timeout", values.timeout ?? spec.timeout ?? "5m"),
  };
  const base = { ...conn, name: names[0] ?? "" };
  switch (command) {
    case "list":
      return {
        command,
        ...conn,
        allNamespaces: values["all-namespaces"] ?? false,
        ...(output ? { output } : {}),
      };
    case "status":
      return { command, ...base, ...(output ? { output } : {}) };
    case "console":
      return {
        command,
        ...base,
        ...wait,
        watch: values.watch ?? false,
        lingerMs: duration("--linger", values.linger ?? "2s"),
      };
    case "migrate":
      return {
        command,
        ...base,
        ...wait,
        ...(values.bandwidth ? { bandwidth: values.bandwidth } : {}),
      };
    case "migrate-cancel":
    case "pause":
    case "unpause":
      return { command, ...base };
    case "ui":
      return {
        command,
        ...conn,
        noBrowser: values["no-browser"] ?? false,
        ...(values.port !== undefined ? { port: localPort("--port", values.port) } : {}),
      };
    case "port-forward": {
      const ports = extra[0];
      if (ports === undefined)
        throw new UsageError(
          `expected ${values.stdio ? "GUEST" : "LOCAL:GUEST"}\n\n${usage(command)}`,
        );
      const [local, guest] = values.stdio ? ["0", ports] : ports.split(":");
      if (guest === undefined)
        throw new UsageError(`"${ports}" is not LOCAL:GUEST\n\n${usage(command)}`);
      return {
        command,
        ...base,
        localPort: localPort("LOCAL", local ?? ""),
        guestPort: localPort("GUEST", guest, false),
        stdio: values.stdio ?? false,
      };
    }
    case "ssh": {
      const at = base.name.lastIndexOf("@");
      return {
        command,
        ...base,
        name: at >= 0 ? base.name.slice(at + 1) : base.name,
        ...(at > 0 ? { user: base.name.slice(0, at) } : {}),
        port: localPort("--ssh-port", values["ssh-port"] ?? "22", false),
        sshArgs,
      };
    }
    case "vnc":
      return {
        command,
        ...base,
        port: localPort("--port", values.port ?? "0"),
        ...(values.viewer ? { viewer: values.viewer } : {}),
      };
    default:
      return { command, ...base, ...wait };
  }
}

function parseAll(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: FLAGS as Record<string, FlagSpec>,
  }) as {
    positionals: string[];
    values: Partial<Record<string, string | boolean>> & {
      namespace?: string;
      kubeconfig?: string;
      context?: string;
      server?: string;
      token?: string;
      "insecure-skip-tls-verify"?: boolean;
      as?: string;
      "as-group"?: string[];
      "request-timeout"?: string;
      help?: boolean;
      wait?: boolean;
      watch?: boolean;
      linger?: string;
      timeout?: string;
      bandwidth?: string;
      output?: string;
      "all-namespaces"?: boolean;
      port?: string;
      "no-browser"?: boolean;
      viewer?: string;
      stdio?: boolean;
      "ssh-port"?: string;
    };
  };
}

function outputFormat(text: string): OutputFormat {
  if (text === "json" || text === "yaml" || text === "wide") return text;
  throw new UsageError(`--output: "${text}" is not one of json, yaml, wide`);
}

/** Pure: a TCP port, 1–65535 (0 where `allowZero`: any free one). */
export function localPort(flag: string, text: string, allowZero = true): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535))
    throw new UsageError(`${flag}: "${text}" is not a port (${allowZero ? 0 : 1}-65535)`);
  return n;
}

/** Pure: `500ms`, `2s`, `5m`, `1h` (or plain seconds) → milliseconds. */
export function duration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m?.[1]) throw new UsageError(`${flag}: not a duration: "${text}" (e.g. 500ms, 2s, 5m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms"];
  return Math.round(Number(m[1]) * unit);
}
