import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/**
 * Loopback pod IPs, unique across all local nodes on this host. Each allocated address is a
 * file named after it, created with O_EXCL: the kernel makes "create if absent" atomic, so
 * node processes never hand out the same IP and need no shared lock or daemon. Addresses come
 * from 127.1.0.1 upwards (127.0.0.0/16 stays free: 127.0.0.1 is the control plane's).
 */

export interface IpOwner {
  cluster: string;
  node: string;
  podUid: string;
}

/** The n-th pod address (0-based): 127.1.0.1 … skipping .0 and .255 in the last octet. */
export function nthPodIp(n: number): string {
  const perBlock = 254;
  const host = (n % perBlock) + 1;
  const block = Math.floor(n / perBlock);
  const second = 1 + Math.floor(block / 256);
  const third = block % 256;
  if (second > 255) throw new Error("loopback pod address space exhausted");
  return `127.${second}.${third}.${host}`;
}

export class IpAllocator {
  constructor(private readonly dir: string) {}

  /** The address `owner` already holds, else a fresh one. */
  allocate(owner: IpOwner): string {
    const held = this.owned((o) => o.podUid === owner.podUid)[0];
    if (held) return held.ip;
    mkdirSync(this.dir, { recursive: true });
    for (let n = 0; ; n++) {
      const ip = nthPodIp(n);
      let fd: number;
      try {
        fd = openSync(join(this.dir, ip), "wx");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw err;
      }
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      return ip;
    }
  }

  /** Frees `ip` if `podUid` still holds it (it may have been freed and handed out since). */
  release(ip: string, podUid: string): void {
    if (this.owned((o) => o.podUid === podUid).some((h) => h.ip === ip)) {
      rmSync(join(this.dir, ip), { force: true });
    }
  }

  /** Addresses whose owner matches `pred`. */
  owned(pred: (owner: IpOwner) => boolean): { ip: string; owner: IpOwner }[] {
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch {
      return [];
    }
    return entries.flatMap((ip) => {
      try {
        const owner = JSON.parse(readFileSync(join(this.dir, ip), "utf8")) as IpOwner;
        return pred(owner) ? [{ ip, owner }] : [];
      } catch {
        return []; // being written or removed right now
      }
    });
  }
}
