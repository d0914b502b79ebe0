import type { Command } from "../kubevisor.js";

/** `kubevisor local <sub>`: subcommands load lazily, like top-level commands. */
const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> =
  {
    up: {
      summary: "start the local control plane (or reuse it) and install the CRDs",
      load: () => import("./local-up.js"),
    },
    down: { summary: "stop the local control plane", load: () => import("./local-down.js") },
    env: {
      summary: "print the shell export that points kubectl at it",
      load: () => import("./local-env.js"),
    },
    status: { summary: "show its processes and health", load: () => import("./local-status.js") },
    node: {
      summary: "start, stop or list the local nodes",
      load: () => import("./local-node.js"),
    },
    logs: {
      summary: "print a container's log from a local node",
      load: () => import("./local-logs.js"),
    },
  };

function usage(): string {
  const lines = ["usage: kubevisor local <subcommand> [--name NAME] [options]", "", "subcommands:"];
  for (const [name, s] of Object.entries(SUBCOMMANDS))
    lines.push(`  ${name.padEnd(8)} ${s.summary}`);
  lines.push(
    "",
    "A cluster is named (default 'default'); its state lives in $XDG_STATE_HOME/kubevisor/cluster/NAME.",
  );
  return lines.join("\n");
}

const local: Command = {
  summary: "a real Kubernetes control plane on this machine (up, down, env, status)",
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === "--help" || sub === "-h") {
      console.log(usage());
      return sub === undefined ? 2 : 0;
    }
    const entry = SUBCOMMANDS[sub];
    if (!entry) {
      console.error(`kubevisor local: unknown subcommand '${sub}'\n\n${usage()}`);
      return 2;
    }
    return await (await entry.load()).default.run(rest);
  },
};
export default local;
