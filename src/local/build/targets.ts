import { join } from "node:path";
import { cacheDir } from "../../util/paths.js";

/**
 * What we build and how. Everything here is pure data and string rendering so it can be
 * unit-tested; running Go lives in ./go.ts and ./build.ts.
 */

export const KUBERNETES_VERSION = "v1.36.3";
/** Newest etcd 3.6 patch; 3.4 (Debian's) lacks what current apiservers need. */
export const ETCD_VERSION = "v3.6.16";
/** Newest Helm 3. */
export const HELM_VERSION = "v3.22.0";
/**
 * promtool, from Prometheus 3.16.0: the Go module github.com/prometheus/prometheus tags
 * Prometheus v3.X.Y as v0.3XX.Y. Tests check and unit-test the chart's alerting rules with it.
 */
export const PROMETHEUS_MODULE_VERSION = "v0.316.0";
/** Newest containerd 2 on the Go proxy; image volumes need >= 2.1. */
export const CONTAINERD_VERSION = "v2.4.2";
export const RUNC_VERSION = "v1.4.4";
/** Our own pause binary (src/local/build/pause.ts); bump when its source changes. */
export const PAUSE_VERSION = "v1";

export type ComponentName =
  | "kubernetes"
  | "etcd"
  | "helm"
  | "promtool"
  | "kubernetes-node"
  | "containerd"
  | "runc"
  | "pause";
export const COMPONENT_NAMES: readonly ComponentName[] = [
  "kubernetes",
  "etcd",
  "helm",
  "promtool",
  "kubernetes-node",
  "containerd",
  "runc",
  "pause",
];
/** Built by setup for the tests, never needed to run the product. */
export const TEST_TOOLS: readonly ComponentName[] = ["promtool"];
/** What `npm run kube:build` builds with no arguments (setup runs it): no real-node parts. */
export const DEFAULT_COMPONENTS: readonly ComponentName[] = [
  "kubernetes",
  "etcd",
  "helm",
  "promtool",
];
/** What the product needs on stand-in nodes (`ensureBinaries` default). */
export const PRODUCT_COMPONENTS: readonly ComponentName[] = ["kubernetes", "etcd", "helm"];
/** What a control plane needs; `local up --runtime local` builds only these. */
export const CONTROL_PLANE_COMPONENTS: readonly ComponentName[] = ["kubernetes", "etcd"];
/** Built only when real nodes (`--runtime containerd`) are asked for. */
export const REAL_NODE_COMPONENTS: readonly ComponentName[] = [
  "kubernetes-node",
  "containerd",
  "runc",
  "pause",
];

export interface Component {
  name: ComponentName;
  version: string;
  /** Cache key: `<name>-<version>`; both the build dir and the bin dir use it. */
  key: string;
  /** Binaries the build leaves in binDir. */
  binaries: readonly string[];
}

export function component(name: ComponentName): Component {
  switch (name) {
    case "kubernetes":
      return {
        name,
        version: KUBERNETES_VERSION,
        key: `kubernetes-${KUBERNETES_VERSION}`,
        binaries: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
      };
    case "etcd":
      return { name, version: ETCD_VERSION, key: `etcd-${ETCD_VERSION}`, binaries: ["etcd"] };
    case "helm":
      return { name, version: HELM_VERSION, key: `helm-${HELM_VERSION}`, binaries: ["helm"] };
    case "promtool":
      return {
        name,
        version: PROMETHEUS_MODULE_VERSION,
        key: `promtool-${PROMETHEUS_MODULE_VERSION}`,
        binaries: ["promtool"],
      };
    case "kubernetes-node":
      return {
        name,
        version: KUBERNETES_VERSION,
        key: `kubernetes-node-${KUBERNETES_VERSION}`,
        binaries: ["kubelet", "kube-proxy"],
      };
    case "containerd":
      return {
        name,
        version: CONTAINERD_VERSION,
        key: `containerd-${CONTAINERD_VERSION}`,
        binaries: ["containerd", "containerd-shim-runc-v2", "ctr"],
      };
    case "runc":
      return { name, version: RUNC_VERSION, key: `runc-${RUNC_VERSION}`, binaries: ["runc"] };
    case "pause":
      return { name, version: PAUSE_VERSION, key: `pause-${PAUSE_VERSION}`, binaries: ["pause"] };
  }
}

/** `v0.316.0` → `3.16.0`, the Prometheus release that module version is. */
export function prometheusRelease(moduleVersion: string): string {
  const m = /^v0\.(\d+)(\d\d)\.(\d+)$/.exec(moduleVersion);
  if (!m) throw new Error(`not a Prometheus module version (v0.3XX.Y): ${moduleVersion}`);
  return `${Number(m[1])}.${Number(m[2])}.${m[3]}`;
}

/** Without the stamp promtool reports no version, and the cache could not be trusted. */
export function promtoolLdflags(moduleVersion: string): string {
  const release = prometheusRelease(moduleVersion);
  return `-s -w -X github.com/prometheus/common/version.Version=${release}`;
}

export function binDir(c: Component): string {
  return cacheDir("bin", c.key);
}

/** Wrapper Go module (go.mod, tools.go) for components built that way. */
export function buildDir(c: Component): string {
  return cacheDir("build", c.key);
}

export function binaryPath(name: ComponentName, binary: string): string {
  return join(binDir(component(name)), binary);
}

/** `v1.36.3` → `{ major: "1", minor: "36" }`. */
export function majorMinor(version: string): { major: string; minor: string } {
  const m = /^v(\d+)\.(\d+)\.\d+/.exec(version);
  if (!m?.[1] || !m[2]) throw new Error(`not a semantic version: ${version}`);
  return { major: m[1], minor: m[2] };
}

/**
 * Without these the binaries report v0.0.0-master, and clients that check server versions
 * (Helm's kubeVersion constraints) refuse them. component-base serves /version; client-go's
 * copy is what the binaries' own clients put in their User-Agent.
 */
export function kubernetesLdflags(version: string): string {
  const { major, minor } = majorMinor(version);
  const stamps = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap(
    (pkg) => [
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ],
  );
  return ["-s", "-w", ...stamps].join(" ");
}

/**
 * Offline `helm template` assumes Kubernetes 1.20 unless told otherwise; stamp the version we
 * run so charts' kubeVersion constraints are checked against the real thing.
 */
export function helmLdflags(helmVersion: string, kubeVersion: string): string {
  const { major, minor } = majorMinor(kubeVersion);
  return [
    "-s",
    "-w",
    `-X helm.sh/helm/v3/internal/version.version=${helmVersion}`,
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${major}`,
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}`,
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${major}`,
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor}`,
  ].join(" ");
}

/**
 * Replace directives of a go.mod that point at relative paths
 * (`k8s.io/api => ./staging/src/k8s.io/api`, `go.etcd.io/etcd/api/v3 => ../api`). Go ignores
 * a dependency's replace directives, so a wrapper module must repeat them, pointing at
 * published versions instead. Handles both single-line and block (`replace ( ... )`) forms.
 */
export function relativeReplaces(goMod: string): Array<{ module: string; target: string }> {
  const found = new Map<string, string>();
  const re = /^\s*(?:replace\s+)?([^\s()]+)(?:\s+v\S+)?\s+=>\s+(\.\.?\/\S*)\s*$/gm;
  for (const m of goMod.matchAll(re)) {
    if (m[1] && m[2]) found.set(m[1], m[2]);
  }
  return [...found]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([module, target]) => ({ module, target }));
}

/** The `go` directive of a go.mod, e.g. `1.26.0`. */
export function goDirective(goMod: string): string | undefined {
  return /^go\s+(\S+)\s*$/m.exec(goMod)?.[1];
}

export interface WrapperModule {
  module: string;
  go: string;
  require: ReadonlyArray<readonly [path: string, version: string]>;
  replace: ReadonlyArray<readonly [path: string, version: string]>;
}

export function renderGoMod(w: WrapperModule): string {
  const lines = [`module ${w.module}`, "", `go ${w.go}`, ""];
  for (const [path, version] of w.require) lines.push(`require ${path} ${version}`);
  for (const [path, version] of w.replace) lines.push("", `replace ${path} => ${path} ${version}`);
  return `${lines.join("\n")}\n`;
}

/** Blank imports under the `tools` tag keep `go mod tidy` from pruning what we build. */
export function renderToolsGo(imports: readonly string[]): string {
  const body = imports.map((i) => `\t_ "${i}"`).join("\n");
  return `//go:build tools\n\npackage tools\n\nimport (\n${body}\n)\n`;
}

/** Staging modules of k8s.io/kubernetes are published as `v0.<minor>.<patch>`. */
export function stagingVersion(kubeVersion: string): string {
  return kubeVersion.replace(/^v1\./, "v0.");
}

export const KUBE_COMMANDS = [
  "k8s.io/kubernetes/cmd/kube-apiserver",
  "k8s.io/kubernetes/cmd/kube-controller-manager",
  "k8s.io/kubernetes/cmd/kube-scheduler",
] as const;

/** The node's half of the same module (built into its own bin dir, same wrapper shape). */
export const KUBE_NODE_COMMANDS = [
  "k8s.io/kubernetes/cmd/kubelet",
  "k8s.io/kubernetes/cmd/kube-proxy",
] as const;

export const CONTAINERD_MODULE = "github.com/containerd/containerd/v2";
export const CONTAINERD_COMMANDS = [
  `${CONTAINERD_MODULE}/cmd/containerd`,
  `${CONTAINERD_MODULE}/cmd/containerd-shim-runc-v2`,
  `${CONTAINERD_MODULE}/cmd/ctr`,
] as const;

/** containerd reports `v0.0.0+unknown` unless stamped; kubelet logs and ctr show it. */
export function containerdLdflags(version: string): string {
  return ["-s", "-w", `-X ${CONTAINERD_MODULE}/version.Version=${version}`].join(" ");
}

/** runc's Makefile stamps `main.version` from its VERSION file; `go install` must do it. */
export function runcLdflags(version: string): string {
  return ["-s", "-w", `-X main.version=${version.replace(/^v/, "")}`].join(" ");
}
