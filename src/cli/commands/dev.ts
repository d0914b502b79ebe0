import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ } from "dax-sh";
import { checkoutDir } from "../../local/node/image-store.js";
import { startProduct } from "../../local/product.js";
import { createProgress, formatDuration } from "../../local/progress.js";
import { parseRuntime, type Runtime } from "../../local/runtime.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs, shellQuote } from "./local-args.js";

const USAGE = `usage: kubevisor dev [--name NAME] [--runtime local|containerd] [--image-archive FILE]...
                     [--no-example]

Brings the whole product up on this machine: builds what is missing (Kubernetes binaries,
Helm, the test guest), starts the local control plane and two local nodes, installs the
Kubevisor chart with Helm, applies examples/vm.yaml and waits until the VM 'demo' runs.
Running it again reuses everything that already runs.
  --runtime containerd  real nodes (kubelet + containerd; see 'kubevisor local up --help'):
                        builds the image from the Dockerfile (npm run image), imports it and
                        the test guest into every node, installs the chart with the node agent
  --image-archive FILE  (containerd) one more OCI/docker archive to import into every node
  --no-example          install Kubevisor but apply no VM`;

const RUNNING_TIMEOUT_MS = 5 * 60_000;

async function waitForPhase(kubeconfig: string, name: string, phase: string): Promise<string> {
  const deadline = Date.now() + RUNNING_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    last = await $`kubectl get vm ${name} -o ${"jsonpath={.status.phase}"}`
      .env({ KUBECONFIG: kubeconfig })
      .noThrow()
      .text();
    if (last === phase) return last;
    await sleep(1000);
  }
  throw new Error(
    `VM ${name} did not reach ${phase} within ${RUNNING_TIMEOUT_MS / 1000}s (phase: ${last || "none"}); ` +
      `see: kubectl describe vm ${name}`,
  );
}

const dev: Command = {
  summary: "bring up the control plane, two nodes, Kubevisor (Helm) and a demo VM",
  async run(args) {
    const { values } = parseLocalArgs(args, {
      "no-example": { type: "boolean" },
      runtime: { type: "string" },
      "image-archive": { type: "string", multiple: true },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    let runtime: Runtime;
    try {
      runtime = parseRuntime(values.runtime);
    } catch (err) {
      console.error(`kubevisor dev: ${(err as Error).message}`);
      return 2;
    }
    const started = Date.now();
    const progress = createProgress();
    const product = await startProduct({
      ...(values.name ? { name: values.name } : {}),
      progress,
      runtime,
      imageArchives: values["image-archive"] ?? [],
    });
    const kubeconfig = product.kubeconfigPath;
    if (!values["no-example"]) {
      progress.step("applying examples/vm.yaml and waiting for the VM to run");
      await $`kubectl apply -f ${join(checkoutDir(), "examples", "vm.yaml")}`
        .env({ KUBECONFIG: kubeconfig })
        .quiet();
      await waitForPhase(kubeconfig, "demo", "Running");
      progress.done("demo is Running");
    }
    const name = values.name ? ` --name ${shellQuote(values.name)}` : "";
    const hint = (command: string, why: string) => `  ${command.padEnd(36)} # ${why}`;
    console.log(
      [
        "",
        `Kubevisor is running (${formatDuration(Date.now() - started)}).`,
        "",
        `  export KUBECONFIG=${shellQuote(kubeconfig)}`,
        hint("kubectl get vm", "phase, node, accelerator, IP"),
        hint("kubectl describe vm demo", "the operator's decisions as Events"),
        hint("npx kubectl-vm console demo", "serial console (Ctrl-] to leave)"),
        // Real kubelets serve logs themselves; the stand-in's are read from its directories.
        runtime === "containerd"
          ? hint("kubectl logs <pod>", "a container's log")
          : hint(`kubevisor local logs${name} <pod>`, "a container's log on a local node"),
        hint(`kubevisor local down${name}`, "stop everything"),
      ].join("\n"),
    );
    return 0;
  },
};

export default dev;
