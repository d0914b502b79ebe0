import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../../util/paths.js";
import type { Progress } from "../progress.js";
import { moduleGoMod, prepareWrapper, verifyVersion } from "./build.js";
import { type GoToolchain, runGo } from "./go.js";
import { PAUSE_GO, PAUSE_GO_MOD } from "./pause.js";
import {
  binDir,
  buildDir,
  CONTAINERD_COMMANDS,
  type Component,
  containerdLdflags,
  KUBE_NODE_COMMANDS,
  kubernetesLdflags,
  relativeReplaces,
  runcLdflags,
  stagingVersion,
} from "./targets.js";

/**
 * Builders of the real-node parts (kubelet, kube-proxy, containerd, runc, pause). Only
 * `--runtime containerd` or `npm run kube:build -- <name>` asks for them, so the stand-in path
 * never pays for these builds.
 */

/** kubelet and kube-proxy from the same wrapper module shape as the control plane. */
export async function buildKubernetesNode(
  go: GoToolchain,
  c: Component,
  progress: Progress,
): Promise<void> {
  const dir = buildDir(c);
  mkdirSync(dir, { recursive: true });
  progress.step(`${c.key}: reading k8s.io/kubernetes go.mod`);
  const goMod = await moduleGoMod(go, `k8s.io/kubernetes@${c.version}`, dir);
  progress.done();
  const staging = relativeReplaces(goMod)
    .filter((r) => r.target.startsWith("./staging/"))
    .map((r) => r.module);
  const ldflags = kubernetesLdflags(c.version);
  const total = await prepareWrapper(go, c, progress, {
    module: "kubevisor.local/kubenodebuild",
    require: "k8s.io/kubernetes",
    replace: staging,
    replaceVersion: stagingVersion(c.version),
    goMod,
    imports: KUBE_NODE_COMMANDS,
  });
  progress.step(`${c.key}: compiling ${c.binaries.join(", ")}`);
  await runGo(
    go,
    ["build", "-v", "-trimpath", "-ldflags", ldflags, "-o", `${binDir(c)}/`, ...KUBE_NODE_COMMANDS],
    { cwd: dir, progress, totalPackages: total },
  );
  progress.done();
  await verifyVersion(join(binDir(c), "kubelet"), `Kubernetes ${c.version}`);
}

/** containerd has no replace directives, so `go install pkg@version` builds it as published. */
export async function buildContainerd(
  go: GoToolchain,
  c: Component,
  progress: Progress,
): Promise<void> {
  const dir = cacheDir("build");
  mkdirSync(dir, { recursive: true });
  progress.step(`${c.key}: compiling ${c.binaries.join(", ")}`);
  await runGo(
    go,
    [
      "install",
      "-v",
      "-trimpath",
      // btrfs needs cgo headers; overlayfs is what we use.
      "-tags",
      "no_btrfs",
      "-ldflags",
      containerdLdflags(c.version),
      ...CONTAINERD_COMMANDS.map((cmd) => `${cmd}@${c.version}`),
    ],
    { cwd: dir, env: { GOBIN: binDir(c) }, progress },
  );
  progress.done();
  await verifyVersion(join(binDir(c), "containerd"), c.version);
}

/** runc needs cgo for seccomp (Debian's libseccomp-dev, installed by setup). */
export async function buildRunc(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  const dir = cacheDir("build");
  mkdirSync(dir, { recursive: true });
  progress.step(`${c.key}: compiling runc`);
  await runGo(
    go,
    [
      "install",
      "-v",
      "-trimpath",
      "-tags",
      "seccomp",
      "-ldflags",
      runcLdflags(c.version),
      `github.com/opencontainers/runc@${c.version}`,
    ],
    { cwd: dir, env: { GOBIN: binDir(c), CGO_ENABLED: "1" }, progress },
  );
  progress.done();
  await verifyVersion(join(binDir(c), "runc"), `runc version ${c.version.replace(/^v/, "")}`);
}

export async function buildPause(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  const dir = buildDir(c);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "go.mod"), PAUSE_GO_MOD);
  writeFileSync(join(dir, "main.go"), PAUSE_GO);
  progress.step(`${c.key}: compiling pause`);
  await runGo(
    go,
    ["build", "-trimpath", "-ldflags", "-s -w", "-o", join(binDir(c), "pause"), "."],
    { cwd: dir, progress },
  );
  progress.done();
}
