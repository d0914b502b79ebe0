import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Connect to a unix socket that a starting QEMU is about to create: retry while it does not
 * exist or does not accept yet, until the deadline or until `signal` says QEMU is gone.
 */
export async function connectWithRetry(
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once("connect", () => {
          s.removeAllListeners("error");
          resolve(s);
        });
        s.once("error", reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const retriable = code === "ENOENT" || code === "ECONNREFUSED";
      if (!retriable || Date.now() > deadline || signal?.aborted) {
        throw new Error(`cannot connect to ${path}: ${(err as Error).message}`);
      }
      await sleep(10);
    }
  }
}
