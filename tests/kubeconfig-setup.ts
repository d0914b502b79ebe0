/**
 * Points kubectl, Helm and KubeConfig.loadFromDefault() in this test file at the cluster its
 * own project's global setup started. Global setups of all projects run in one process
 * before any test, so KUBECONFIG inherited from it names whichever cluster started last.
 */
import { inject } from "vitest";

const kubeconfig = inject("kubeconfig");
if (kubeconfig) process.env.KUBECONFIG = kubeconfig;
else delete process.env.KUBECONFIG;
