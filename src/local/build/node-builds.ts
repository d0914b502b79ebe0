import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Progress } from "../progress.js";
import { buildKubernetesCommands, goInstallPublished, verifyVersion } from "./build.js";
import { type GoToolchain, runGo } from "./go.js";
import { PAUSE_GO, PAUSE_GO_MOD } from "./pause.js";
import {
  binDir,
  buildDir,
  CONTAINERD_COMMANDS,
  type Component,
  containerdLdflags,
  KUBE_NODE_COMMANDS,
  runcLdflags,
} from "./targets.js";

/**
 * Builders of the real-node parts (kubelet, kube-proxy, containerd, runc, pause). Only
 * `--runtime containerd` or `npm run kube:build -- <name>` asks for them, so the stand-in path
 * never pays for these builds.
 */

/** kubelet and kube-proxy from the same wrapper module shape as the control plane. */
export function buildKubernetesNode(
  go: GoToolchain,
  c: Component,
  progress: Progress,
): Promise<void> {
  return buildKubernetesCommands(go, c, progress, {
    module: "kubevisor.local/kubenodebuild",
    commands: KUBE_NODE_COMMANDS,
    versionOf: "kubelet",
  });
}

/** containerd has no replace directives, so `go install pkg@version` builds it as published. */
export async function buildContainerd(
  go: GoToolchain,
  c: Component,
  progress: Progress,
): Promise<void> {
  await goInstallPublished(go, c, progress, {
    pkgs: CONTAINERD_COMMANDS.map((cmd) => `${cmd}@${c.version}`),
    // btrfs needs cgo headers; overlayfs is what we use.
    flags: ["-tags", "no_btrfs", "-ldflags", containerdLdflags(c.version)],
  });
  await verifyVersion(join(binDir(c), "containerd"), c.version);
}

/** runc needs cgo for seccomp (Debian's libseccomp-dev, installed by setup). */
export async function buildRunc(go: GoToolchain, c: Component, progress: Progress): Promise<void> {
  await goInstallPublished(go, c, progress, {
    pkgs: [`github.com/opencontainers/runc@${c.version}`],
    flags: ["-tags", "seccomp", "-ldflags", runcLdflags(c.version)],
    env: { CGO_ENABLED: "1" },
  });
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
