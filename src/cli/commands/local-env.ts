import { controlPlaneStatus } from "../../local/controlplane.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs, shellQuote } from "./local-args.js";

const USAGE = `usage: kubevisor local env [--name NAME]

Prints the export for the cluster's admin kubeconfig: eval "$(kubevisor local env)"`;

const env: Command = {
  summary: "print the KUBECONFIG export",
  async run(args) {
    const { values } = parseLocalArgs(args, {});
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const status = await controlPlaneStatus({ name: values.name });
    // stdout stays eval-able; the hint goes to stderr.
    if (!status.ready) {
      console.error(
        `# control plane '${values.name}' is not running; start it: kubevisor local up`,
      );
    }
    console.log(`export KUBECONFIG=${shellQuote(status.kubeconfigPath)}`);
    return 0;
  },
};
export default env;
