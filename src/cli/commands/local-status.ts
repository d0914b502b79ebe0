import { controlPlaneStatus } from "../../local/controlplane.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs } from "./local-args.js";

const USAGE = `usage: kubevisor local status [--name NAME] [--json]

Exit code 0 when the cluster runs and its apiserver is ready, 3 otherwise.`;

const status: Command = {
  summary: "show the control plane's processes and health",
  async run(args) {
    const { values } = parseLocalArgs(args, { json: { type: "boolean" } });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const s = await controlPlaneStatus({ name: values.name });
    if (values.json) {
      console.log(JSON.stringify(s, null, 2));
    } else {
      const state = s.ready ? "ready" : s.exists ? "not running" : "never started";
      const url = s.apiserverUrl ? ` (${s.apiserverUrl})` : "";
      const runtime = s.runtime ? `, --runtime ${s.runtime}` : "";
      console.log(`cluster ${s.name}: ${state}${url}${runtime}`);
      for (const c of s.components) {
        const how = c.running ? `running, pid ${c.pid}` : "stopped";
        console.log(`  ${c.component.padEnd(24)} ${how.padEnd(20)} ${c.log}`);
      }
      console.log(`kubeconfig: ${s.kubeconfigPath}`);
    }
    return s.ready ? 0 : 3;
  },
};
export default status;
