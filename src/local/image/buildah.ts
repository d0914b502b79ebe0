import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { cacheDir } from "../../util/paths.js";
import type { Progress } from "../progress.js";

/**
 * buildah with the project's own image store (never the host's /var/lib/containers), so
 * builds neither see nor disturb other images on the machine and `rm -rf` of the cache
 * removes everything. Isolation is chroot: no OCI runtime, no daemon, works as root here.
 */
export interface BuildahStore {
  root: string;
  runroot: string;
  driver: "overlay" | "vfs";
}

export function defaultStore(): BuildahStore {
  return {
    root: cacheDir("image", "storage"),
    runroot: cacheDir("image", "run"),
    // overlay works on these hosts (see ../../../README: image); vfs copies every layer.
    driver: (process.env.KUBEVISOR_BUILDAH_DRIVER as BuildahStore["driver"]) ?? "overlay",
  };
}

/** Pure: the global flags that select the store. */
export function storeArgs(s: BuildahStore): string[] {
  return ["--root", s.root, "--runroot", s.runroot, "--storage-driver", s.driver];
}

export class BuildToolError extends Error {
  override name = "BuildToolError";
}

/**
 * Run `buildah <args>` on the store. Lines go to `onLine` (progress); the last ones are kept
 * for the error when it fails. Resolves with stdout.
 */
export function buildah(
  store: BuildahStore,
  args: string[],
  onLine: (line: string) => void = () => {},
): Promise<string> {
  return runTool(`buildah ${args[0]}`, "buildah", [...storeArgs(store), ...args], onLine, {
    ...process.env,
    BUILDAH_ISOLATION: "chroot",
  });
}

/** Run a build tool without blocking the event loop; its output lines go to `onLine`. */
export function runTool(
  label: string,
  cmd: string,
  args: string[],
  onLine: (line: string) => void = () => {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    const tail: string[] = [];
    const keep = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      onLine(line);
    };
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    createInterface({ input: child.stdout }).on("line", keep);
    createInterface({ input: child.stderr }).on("line", keep);
    child.on("error", (err) =>
      reject(new BuildToolError(`${cmd}: ${err.message} (is it installed? npm run setup)`)),
    );
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new BuildToolError(`${label} failed (${code}):\n${tail.join("\n")}`));
    });
  });
}

/** Whether the store holds an image by this name. */
export async function hasImage(store: BuildahStore, name: string): Promise<boolean> {
  try {
    await buildah(store, ["inspect", "--type", "image", name]);
    return true;
  } catch {
    return false;
  }
}

/**
 * A build's output as progress: the current `STEP n/m: …` line, followed by the latest output
 * line, so a long RUN step (apt, npm ci) shows it is alive.
 */
export function progressLines(progress: Progress): (line: string) => void {
  let step = "";
  return (line) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes from build tools
    const text = line.replace(/\x1b\[[0-9;]*m/g, "").trim();
    if (text === "") return;
    if (/^(\[\d+\/\d+\] )?STEP \d+\/\d+/.test(text)) {
      step = text;
      progress.update(step);
    } else {
      progress.update(step ? `${step.slice(0, 60)} | ${text.slice(0, 100)}` : text.slice(0, 160));
    }
  };
}
