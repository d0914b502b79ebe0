import { existsSync } from "node:fs";
import { $ } from "dax-sh";
import { logger } from "../../util/log.js";
import type { Progress } from "../progress.js";

const log = logger("kube-build");

export class GoToolchainError extends Error {
  override name = "GoToolchainError";
}

export interface GoToolchain {
  bin: string;
  /** e.g. `1.26.8` */
  version: string;
}

/** `1.26.8` ≥ `1.26.0`? Compares dotted numeric versions. */
export function versionAtLeast(have: string, need: string): boolean {
  const a = have.split(".").map(Number);
  const b = need.split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/**
 * Finds a Go toolchain new enough for what we build. /usr/local/go is checked too because
 * that is where upstream tarballs install and it is often missing from non-login PATHs.
 */
export async function findGo(minVersion: string): Promise<GoToolchain> {
  const bin =
    (await $.which("go")) ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : null);
  if (!bin) {
    throw new GoToolchainError(
      `Go toolchain not found (no 'go' on PATH, nothing at /usr/local/go/bin/go).\n` +
        `Building kube-apiserver, etcd and Helm needs Go >= ${minVersion}. Debian's golang-go is ` +
        `too old; install an upstream Go ${minVersion}+ into /usr/local/go and add ` +
        `/usr/local/go/bin to PATH, then re-run 'npm run kube:build'.`,
    );
  }
  const raw = (await $`${bin} env GOVERSION`.env(goEnv()).text()).trim();
  const version = raw.replace(/^go/, "");
  if (!versionAtLeast(version, minVersion)) {
    throw new GoToolchainError(
      `${bin} is Go ${version}; building these binaries needs Go >= ${minVersion} ` +
        `(GOTOOLCHAIN=local: we never download another toolchain).`,
    );
  }
  return { bin, version };
}

/**
 * Static binaries from this exact toolchain: GOTOOLCHAIN=local so a module's `toolchain`
 * line cannot trigger a download; no cgo so the result does not depend on host libraries.
 */
export function goEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { GOTOOLCHAIN: "local", CGO_ENABLED: "0", ...extra };
}

/** Classifies one line of `go build -v` / `go mod` stderr for the condensed progress view. */
export function classifyGoLine(line: string): "package" | "download" | "other" {
  if (/^go: downloading \S+ \S+$/.test(line)) return "download";
  // -v prints bare import paths as packages are compiled.
  if (/^[\w.\-~]+(\/[\w.\-~+]+)*$/.test(line)) return "package";
  return "other";
}

export interface RunGoOptions {
  cwd: string;
  env?: Record<string, string>;
  progress: Progress;
  /** Packages to compile, if known, to show "n/N". */
  totalPackages?: number;
}

/**
 * Runs a long go command, condensing its output into one status line: packages compiled,
 * modules downloaded, the latest package. Anything else go prints is kept and shown in full
 * if the command fails, since that is where compile errors are.
 */
export async function runGo(go: GoToolchain, args: string[], opts: RunGoOptions): Promise<void> {
  log.debug({ cwd: opts.cwd, args }, "go");
  const child = $`${go.bin} ${args}`
    .cwd(opts.cwd)
    .env(goEnv(opts.env))
    .stdout("piped")
    .stderr("piped")
    .noThrow()
    .spawn();
  let packages = 0;
  let downloads = 0;
  const other: string[] = [];
  const onLine = (line: string) => {
    if (!line) return;
    const kind = classifyGoLine(line);
    if (kind === "package") packages++;
    else if (kind === "download") downloads++;
    else other.push(line);
    const total = opts.totalPackages ? `/${opts.totalPackages}` : "";
    const dl = downloads ? `, ${downloads} modules downloaded` : "";
    const last = kind === "other" ? line : line.replace(/^go: downloading /, "");
    opts.progress.update(`${packages}${total} packages${dl} · ${last}`);
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) onLine(l.trimEnd());
    }
    onLine(buf.trimEnd());
  };
  const [result] = await Promise.all([
    child,
    pump(child.stderr() as ReadableStream<Uint8Array>),
    pump(child.stdout() as ReadableStream<Uint8Array>),
  ]);
  if (result.code !== 0) {
    const tail = other.slice(-40).join("\n");
    throw new Error(`go ${args.slice(0, 2).join(" ")} failed (exit ${result.code}):\n${tail}`);
  }
}

/** Short go commands whose output we want as text (go env, go list, go mod download -json). */
export async function goText(go: GoToolchain, args: string[], cwd: string): Promise<string> {
  return await $`${go.bin} ${args}`.cwd(cwd).env(goEnv()).quiet("stderr").text();
}
