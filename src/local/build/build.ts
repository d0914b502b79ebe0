import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { logger } from "../../util/log.js";
import { cacheDir } from "../../util/paths.js";
import { withLock } from "../lock.js";
import { createProgress, formatDuration, type Progress } from "../progress.js";
import { findGo, type GoToolchain, goText, runGo } from "./go.js";
import { buildContainerd, buildKubernetesNode, buildPause, buildRunc } from "./node-builds.js";
import { writeBuildEntry } from "./record.js";
import {
  binDir,
  buildDir,
  type Component,
  type ComponentName,
  component,
  ETCD_VERSION,
  goDirective,
  HELM_VERSION,
  helmLdflags,
  KUBE_COMMANDS,
  KUBERNETES_VERSION,
  kubernetesLdflags,
  PRODUCT_COMPONENTS,
  prometheusRelease,
  promtoolLdflags,
  relativeReplaces,
  renderGoMod,
  renderToolsGo,
  stagingVersion,
} from "./targets.js";

const log = logger("kube-build");

/** Oldest Go that builds all of them; their go.mod files declare `go 1.26.0`. */
export const MIN_GO = "1.26.0";

type Builder = (go: GoToolchain, c: Component, progress: Progress) => Promise<void>;
const BUILDERS: Record<ComponentName, Builder> = {
  kubernetes: (go, c, p) => buildKubernetes(go, c, p),
  etcd: (go, c, p) => buildEtcd(go, c, p),
  helm: (go, c, p) => buildHelm(go, c, p),
  promtool: (go, c, p) => buildPromtool(go, c, p),
  "kubernetes-node": (go, c, p) => buildKubernetesNode(go, c, p),
  containerd: (go, c, p) => buildContainerd(go, c, p),
  runc: (go, c, p) => buildRunc(go, c, p),
  pause: (go, c, p) => buildPause(go, c, p),
};

export function missingBinaries(c: Component): string[] {
  return c.binaries.filter((b) => !existsSync(join(binDir(c), b)));
}

export interface EnsureOptions {
  components?: readonly ComponentName[];
  progress?: Progress;
}

/**
 * Makes sure the binaries exist in the cache, building only what is missing. Returns the bin
 * directory of each requested component. Safe to call on every `local up`: when all is
 * cached it only stats files.
 */
export async function ensureBinaries(
  opts: EnsureOptions = {},
): Promise<Partial<Record<ComponentName, string>>> {
  const names = opts.components ?? PRODUCT_COMPONENTS;
  const progress = opts.progress ?? createProgress();
  const todo = names.map(component).filter((c) => missingBinaries(c).length > 0);
  if (todo.length > 0) {
    const go = await findGo(MIN_GO);
    progress.note(
      `Building ${todo.map((c) => c.key).join(", ")} with Go ${go.version} — the first ` +
        "build takes many minutes; the binaries are cached in " +
        cacheDir("bin"),
    );
    // One at a time: each go build already uses every core.
    for (const c of todo) await buildComponent(go, c, progress);
  }
  return Object.fromEntries(names.map((n) => [n, binDir(component(n))]));
}

async function buildComponent(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  const lock = join(buildDir(c), ".lock");
  const busy = (pid: number) => `${c.key} is being built by pid ${pid}; wait for it to finish`;
  await withLock(lock, busy, async () => {
    // Another process may have finished it while we waited for the lock.
    if (missingBinaries(c).length === 0) return;
    const started = Date.now();
    mkdirSync(binDir(c), { recursive: true });
    await BUILDERS[c.name](go, c, progress);
    const missing = missingBinaries(c);
    if (missing.length > 0) throw new Error(`build of ${c.key} did not produce ${missing}`);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    writeBuildEntry(c.key, {
      component: c.name,
      version: c.version,
      binaries: [...c.binaries],
      seconds,
      finishedAt: new Date().toISOString(),
      goVersion: go.version,
      nproc: availableParallelism(),
      source: "build-kube",
    });
    log.info({ component: c.key, seconds }, "built");
    progress.note(`${c.key}: built in ${formatDuration(seconds * 1000)}`);
  });
}

/** Reads a module's own go.mod from the module cache (downloading it if needed). */
export async function moduleGoMod(go: GoToolchain, mod: string, cwd: string): Promise<string> {
  const info = JSON.parse(await goText(go, ["mod", "download", "-json", mod], cwd)) as {
    GoMod?: string;
    Error?: string;
  };
  if (!info.GoMod) throw new Error(`go mod download ${mod}: ${info.Error ?? "no go.mod"}`);
  return readFileSync(info.GoMod, "utf8");
}

/** Writes the wrapper module, tidies it and counts the packages to compile. */
export async function prepareWrapper(
  go: GoToolchain,
  c: Component,
  progress: Progress,
  opts: {
    module: string;
    require: string;
    replace: string[];
    replaceVersion: string;
    goMod: string;
    imports: readonly string[];
  },
): Promise<number> {
  const dir = buildDir(c);
  writeFileSync(
    join(dir, "go.mod"),
    renderGoMod({
      module: opts.module,
      go: goDirective(opts.goMod) ?? MIN_GO,
      require: [[opts.require, c.version]],
      replace: opts.replace.map((m) => [m, opts.replaceVersion] as const),
    }),
  );
  writeFileSync(join(dir, "tools.go"), renderToolsGo(opts.imports));
  // go.sum from an earlier attempt may pin what the fresh go.mod no longer needs.
  rmSync(join(dir, "go.sum"), { force: true });
  progress.step(`${c.key}: resolving modules`);
  await runGo(go, ["mod", "tidy"], { cwd: dir, progress });
  progress.done();
  const deps = await goText(go, ["list", "-deps", ...opts.imports], dir);
  return deps.split("\n").filter(Boolean).length;
}

function buildKubernetes(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  return buildKubernetesCommands(go, c, progress, {
    module: "kubevisor.local/kubebuild",
    commands: KUBE_COMMANDS,
    versionOf: "kube-apiserver",
  });
}

/**
 * Commands of k8s.io/kubernetes (control plane, or kubelet and kube-proxy) built through a
 * wrapper module; `versionOf` names the binary whose version stamp is checked.
 */
export async function buildKubernetesCommands(
  go: GoToolchain,
  c: Component,
  progress: Progress,
  opts: { module: string; commands: readonly string[]; versionOf: string },
): Promise<void> {
  const dir = buildDir(c);
  mkdirSync(dir, { recursive: true });
  progress.step(`${c.key}: reading k8s.io/kubernetes go.mod`);
  const goMod = await moduleGoMod(go, `k8s.io/kubernetes@${c.version}`, dir);
  progress.done();
  // k8s.io/kubernetes points its staging modules at ./staging/...; we point them at their
  // published v0.x tags.
  const staging = relativeReplaces(goMod)
    .filter((r) => r.target.startsWith("./staging/"))
    .map((r) => r.module);
  const ldflags = kubernetesLdflags(c.version);
  const total = await prepareWrapper(go, c, progress, {
    module: opts.module,
    require: "k8s.io/kubernetes",
    replace: staging,
    replaceVersion: stagingVersion(c.version),
    goMod,
    imports: opts.commands,
  });
  writeFileSync(join(dir, "ldflags.txt"), `${ldflags}\n`);
  progress.step(`${c.key}: compiling ${c.binaries.join(", ")}`);
  await runGo(
    go,
    ["build", "-v", "-trimpath", "-ldflags", ldflags, "-o", `${binDir(c)}/`, ...opts.commands],
    { cwd: dir, progress, totalPackages: total },
  );
  progress.done();
  await verifyVersion(join(binDir(c), opts.versionOf), `Kubernetes ${c.version}`);
}

async function buildEtcd(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  const dir = buildDir(c);
  mkdirSync(dir, { recursive: true });
  const serverModule = "go.etcd.io/etcd/server/v3";
  progress.step(`${c.key}: reading ${serverModule} go.mod`);
  const goMod = await moduleGoMod(go, `${serverModule}@${c.version}`, dir);
  progress.done();
  // The server's go.mod points its sibling modules (api, client, pkg) at ../; it also
  // "replaces" modules it must never import with ./FORBIDDEN_DEPENDENCY, which we skip.
  const siblings = relativeReplaces(goMod)
    .filter((r) => r.target.startsWith("../"))
    .map((r) => r.module);
  const total = await prepareWrapper(go, c, progress, {
    module: "kubevisor.local/etcdbuild",
    require: serverModule,
    replace: siblings,
    replaceVersion: c.version,
    goMod,
    imports: [serverModule],
  });
  progress.step(`${c.key}: compiling etcd`);
  await runGo(
    go,
    ["build", "-v", "-trimpath", "-ldflags", "-s -w", "-o", join(binDir(c), "etcd"), serverModule],
    { cwd: dir, progress, totalPackages: total },
  );
  progress.done();
  await verifyVersion(join(binDir(c), "etcd"), `etcd Version: ${ETCD_VERSION.slice(1)}`);
}

/**
 * Modules whose go.mod has no replace directives (Helm, Prometheus, containerd, runc):
 * `go install pkg@version` builds them as published, with their own go.sum.
 */
export async function goInstallPublished(
  go: GoToolchain,
  c: Component,
  progress: Progress,
  opts: { pkgs: readonly string[]; flags: readonly string[]; env?: Record<string, string> },
): Promise<void> {
  const dir = cacheDir("build");
  mkdirSync(dir, { recursive: true });
  progress.step(`${c.key}: compiling ${c.binaries.join(", ")}`);
  await runGo(go, ["install", "-v", "-trimpath", ...opts.flags, ...opts.pkgs], {
    cwd: dir,
    env: { GOBIN: binDir(c), ...opts.env },
    progress,
  });
  progress.done();
}

async function buildHelm(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  await goInstallPublished(go, c, progress, {
    pkgs: [`helm.sh/helm/v3/cmd/helm@${c.version}`],
    flags: ["-ldflags", helmLdflags(c.version, KUBERNETES_VERSION)],
  });
  await verifyVersion(join(binDir(c), "helm"), HELM_VERSION);
}

async function buildPromtool(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  await goInstallPublished(go, c, progress, {
    pkgs: [`github.com/prometheus/prometheus/cmd/promtool@${c.version}`],
    flags: ["-ldflags", promtoolLdflags(c.version)],
  });
  await verifyVersion(join(binDir(c), "promtool"), `version ${prometheusRelease(c.version)}`);
}

/** A build that forgot its version stamp is worse than none: delete it and fail loudly. */
export async function verifyVersion(bin: string, expected: string): Promise<void> {
  const out = await $`${bin} --version`.noThrow().text("combined");
  const alt = out.includes(expected) ? out : await $`${bin} version`.noThrow().text("combined");
  if (!alt.includes(expected)) {
    rmSync(bin, { force: true });
    throw new Error(`${bin} does not report ${expected}; got: ${alt.trim().slice(0, 200)}`);
  }
}
