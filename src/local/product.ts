import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ } from "dax-sh";
import { GROUP } from "../api/common.js";
import { KVM_RESOURCE } from "../api/launcher.js";
import { RESOURCES } from "../api/resources.js";
import { logger } from "../util/log.js";
import { debianImageBuilt } from "../vmm/debian-image.js";
import { ensureBinaries } from "./build/build.js";
import { binaryPath } from "./build/targets.js";
import { type ControlPlane, startControlPlane } from "./controlplane.js";
import { adoptCrdsForHelm } from "./crds.js";
import { checkoutDir } from "./node/image-store.js";
import { type StartedNode, startLocalNodes, stopLocalNodes } from "./node/lifecycle.js";
import { type Progress, silentProgress } from "./progress.js";
import type { Runtime } from "./runtime.js";

/**
 * The whole product on one machine, installed the way users install it: the control plane,
 * two local nodes, and the Helm chart whose operator pod runs on one of those nodes. Shared
 * by `kubevisor dev`, the end-to-end tests and the benchmarks, so all three stand on the same
 * thing a newcomer gets.
 */

const log = logger("local-product");

export const RELEASE = "kubevisor";
export const RELEASE_NAMESPACE = "kubevisor-system";

/**
 * Chart values every local install gets: guests on this machine may not open connections
 * out of their pods (nothing may leave the machine); `helmValues` can override.
 */
export const LOCAL_HELM_VALUES: Readonly<Record<string, string>> = { "guest.outbound": "deny" };

export interface ProductOptions {
  /** Cluster name (default "default") or an explicit state directory. */
  name?: string;
  dir?: string;
  progress?: Progress;
  /** Extra `--set` values for the chart. */
  helmValues?: Record<string, string>;
  /** Stand-in nodes (default) or real kubelets with containerd. */
  runtime?: Runtime;
  /** Real nodes: more image archives imported into every node (the product image built
   * from the Dockerfile and the test guest always are). */
  imageArchives?: readonly string[];
}

export interface Product {
  controlPlane: ControlPlane;
  nodes: StartedNode[];
  kubeconfigPath: string;
  /** Stops nodes (their pods first) and then the control plane. */
  stop(): Promise<void>;
}

/** Builds whatever is missing: Kubernetes and Helm binaries, the test guest, dist/. */
export async function ensureArtifacts(progress: Progress): Promise<void> {
  await ensureBinaries({ progress });
  const root = checkoutDir();
  if (!existsSync(join(root, "dist", "operator", "main.js"))) {
    progress.step("building dist/ (npm run build)");
    await $`npm run -s build`.cwd(root);
    progress.done();
  }
  const { guestImageDir } = await import("../vmm/guest-image.js");
  if (!existsSync(join(guestImageDir(), "manifest.json"))) {
    progress.step("building the test guest (npm run guest)");
    await $`node --import tsx scripts/build-guest.ts`.cwd(root);
    progress.done();
  }
}

export async function helm(kubeconfig: string, args: string[]): Promise<string> {
  return await $`${binaryPath("helm", "helm")} ${args}`.env({ KUBECONFIG: kubeconfig }).text();
}

/** This checkout's chart. */
export function chartDir(): string {
  return join(checkoutDir(), "charts", "kubevisor");
}

/**
 * `helm upgrade --install` of `chart` (default: this checkout's) with LOCAL_HELM_VALUES and
 * `values`; waits for the operator to be Ready.
 */
export async function installChart(
  kubeconfig: string,
  values: Record<string, string> = {},
  chart: string = chartDir(),
): Promise<void> {
  const sets = Object.entries({ ...LOCAL_HELM_VALUES, ...values }).flatMap(([k, v]) => [
    "--set",
    `${k}=${v}`,
  ]);
  // A cluster from `kubevisor local up` has the CRDs already, applied without Helm.
  const crds = RESOURCES.map((r) => `${r.plural}.${GROUP}`);
  const adopted = await adoptCrdsForHelm(kubeconfig, crds, {
    name: RELEASE,
    namespace: RELEASE_NAMESPACE,
  });
  if (adopted.length > 0)
    log.info({ crds: adopted }, "CRDs applied without Helm adopted by the chart");
  await helm(kubeconfig, [
    "upgrade",
    "--install",
    RELEASE,
    chart,
    "--namespace",
    RELEASE_NAMESPACE,
    "--create-namespace",
    "--wait",
    "--timeout",
    "5m",
    ...sets,
  ]);
}

export async function startProduct(opts: ProductOptions = {}): Promise<Product> {
  const progress = opts.progress ?? silentProgress;
  await ensureArtifacts(progress);
  const ref = { ...(opts.name ? { name: opts.name } : {}), ...(opts.dir ? { dir: opts.dir } : {}) };
  if (opts.runtime === "containerd") return await startRealProduct(opts, ref, progress);
  const controlPlane = await startControlPlane({ ...ref, progress });
  const clusterDir = controlPlane.dir;
  try {
    progress.step("starting local nodes");
    const nodes = await startLocalNodes({ clusterDir });
    progress.done(nodes.map((n) => `${n.name}${n.reused ? " (reused)" : ""}`).join(", "));
    progress.step("installing the Kubevisor chart with Helm");
    await installChart(controlPlane.kubeconfigPath, opts.helmValues);
    progress.done();
    log.info({ cluster: controlPlane.name }, "product is up");
    return {
      controlPlane,
      nodes,
      kubeconfigPath: controlPlane.kubeconfigPath,
      stop: async () => {
        await stopLocalNodes({ clusterDir });
        await controlPlane.stop();
      },
    };
  } catch (err) {
    // Leave nothing half-started behind when this run started it.
    if (!controlPlane.reused) {
      await stopLocalNodes({ clusterDir }).catch(() => {});
      await controlPlane.stop().catch(() => {});
    }
    throw err;
  }
}

/**
 * Chart values real nodes add: the node agent's device plugin offers /dev/kvm to pods (the
 * stand-in has no kubelet device-plugin socket).
 */
export const REAL_NODES_HELM_VALUES: Readonly<Record<string, string>> = {
  "nodeAgent.enabled": "true",
};

/**
 * The product on real nodes: the image built from the Dockerfile and the test guest as an OCI
 * image, imported into every node's containerd (there is no registry); then the same chart,
 * its default image (`kubevisor/kubevisor:<appVersion>`, IfNotPresent) already present.
 */
async function startRealProduct(
  opts: ProductOptions,
  ref: { name?: string; dir?: string },
  progress: Progress,
): Promise<Product> {
  const { buildProductImage } = await import("./image/index.js");
  const { debianCloudSource, guestImageArchive, testGuestSource } = await import(
    "./containerd/guest-images.js"
  );
  const image = await buildProductImage({ progress });
  // The guest images the stand-in serves from `npm run guest`'s directories, as OCI images
  // (the Debian cloud image only when it was built, as on the stand-in).
  const guests: string[] = [];
  for (const src of [testGuestSource(), ...(debianImageBuilt() ? [debianCloudSource()] : [])]) {
    progress.step(`guest image ${src.ref}`);
    guests.push(await guestImageArchive(src));
    progress.done();
  }
  const archives = [image.archive, ...guests, ...(opts.imageArchives ?? [])];
  const { startRealCluster } = await import("./containerd/cluster.js");
  const real = await startRealCluster({ ...ref, progress, archives });
  try {
    progress.step("installing the Kubevisor chart with Helm");
    const values = { ...REAL_NODES_HELM_VALUES, ...opts.helmValues };
    await installChart(real.controlPlane.kubeconfigPath, values);
    progress.done();
    if (values["nodeAgent.enabled"] === "true" && existsSync("/dev/kvm")) {
      // Until the device plugin has registered, the operator sees no KVM node and an `Auto`
      // VM would not ask for /dev/kvm: the first VM would not match the later ones.
      progress.step(`waiting for nodes to offer ${KVM_RESOURCE}`);
      await waitForKvmNodes(real.controlPlane.kubeconfigPath, real.nodes);
      progress.done();
    }
  } catch (err) {
    await real.stop().catch(() => {});
    throw err;
  }
  const nodes = real.nodes.map((name) => ({
    name,
    running: true,
    ready: true,
    log: "",
    reused: false,
  }));
  return {
    controlPlane: real.controlPlane,
    nodes,
    kubeconfigPath: real.controlPlane.kubeconfigPath,
    stop: () => real.stop(),
  };
}

/** Pure: the nodes (of `want`) whose allocatable lacks the KVM device. */
export function nodesWithoutKvm(
  nodes: readonly {
    metadata?: { name?: string };
    status?: { allocatable?: Record<string, string> };
  }[],
  want: readonly string[],
): string[] {
  const offering = new Set(
    nodes
      .filter((n) => Number(n.status?.allocatable?.[KVM_RESOURCE] ?? 0) > 0)
      .map((n) => n.metadata?.name),
  );
  return want.filter((n) => !offering.has(n));
}

async function waitForKvmNodes(kubeconfig: string, names: readonly string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  let missing: string[] = [...names];
  while (Date.now() < deadline) {
    const out = await $`kubectl get nodes -o json`.env({ KUBECONFIG: kubeconfig }).text();
    missing = nodesWithoutKvm(JSON.parse(out).items, names);
    if (missing.length === 0) return;
    await sleep(500);
  }
  throw new Error(
    `nodes ${missing.join(", ")} do not offer ${KVM_RESOURCE} although /dev/kvm exists: ` +
      `see kubectl logs -n ${RELEASE_NAMESPACE} -l app.kubernetes.io/component=node-agent`,
  );
}
