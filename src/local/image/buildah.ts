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

export class BuildahError extends Error {
  override name = "BuildahError";
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
  return new Promise((resolve, reject) => {
    const child = spawn("buildah", [...storeArgs(store), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BUILDAH_ISOLATION: "chroot" },
    });
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
      reject(new BuildahError(`buildah: ${err.message} (is buildah installed? npm run setup)`)),
    );
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new BuildahError(`buildah ${args[0]} failed (${code}):\n${tail.join("\n")}`));
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

/** A buildah step's lines as progress: `STEP n/m: …` lines replace the status text. */
export function progressLines(progress: Progress): (line: string) => void {
  return (line) => {
    if (/^(STEP \d+\/\d+|\[\d+\/\d+\] STEP \d+\/\d+)/.test(line)) progress.update(line);
  };
}
