import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { RUNTIMES } from "./runtime.js";

/** What a cluster remembers between starts, so its kubeconfig stays valid across down/up. */
export const ClusterState = z.object({
  name: z.string(),
  ports: z.object({
    etcdClient: z.number().int(),
    etcdPeer: z.number().int(),
    apiserver: z.number().int(),
    controllerManager: z.number().int(),
    scheduler: z.number().int(),
  }),
  kubernetesVersion: z.string(),
  etcdVersion: z.string(),
  createdAt: z.string(),
  /** Which nodes the cluster runs; fixed at first start (real nodes need another apiserver address). */
  runtime: z.enum(RUNTIMES).default("local"),
  /** Where the apiserver listens; 127.0.0.1 unless the cluster runs real nodes. */
  apiserverAddress: z.string().default("127.0.0.1"),
});
export type ClusterState = z.infer<typeof ClusterState>;

export function readState(path: string): ClusterState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const parsed = ClusterState.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${path} is not a cluster state file: ${parsed.error.message}`);
  return parsed.data;
}

export function writeState(path: string, state: ClusterState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`);
}
