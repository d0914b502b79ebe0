import { lstatSync, readlinkSync } from "node:fs";
import type { Bind } from "./image-store.js";
import type { Mount } from "./volumes.js";

/**
 * A container as a bubblewrap command line. The sandbox gets its own mount, pid, ipc and uts
 * namespaces but shares the host network (pods bind to their own loopback IP). Its root is an
 * empty tmpfs holding only: the host's /usr (Node.js and QEMU: the Kubevisor image's runtime),
 * a few /etc files, the image's files, the pod's volumes and the devices it asked for.
 *
 * bwrap runs a reaper as pid 1 of the new pid namespace and the command as its child, so a
 * SIGTERM reaches the command even without a handler (unlike a bare pid 1), and when the
 * command exits every process it left behind is killed with the namespace.
 */

/** How the host's top-level system directories look: real dirs or merged-/usr symlinks. */
export interface HostSystem {
  /** Path → symlink target, or null for a real directory. */
  dirs: Map<string, string | null>;
  /** /etc entries that exist on this host and are safe to share read-only. */
  etc: string[];
}

/** Enough of /etc for dynamic linking, TLS roots, user and host name lookups. No secrets. */
const ETC_ENTRIES = [
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "alternatives",
  "ssl",
  "ca-certificates",
  "passwd",
  "group",
  "nsswitch.conf",
  "host.conf",
  "gai.conf",
  "localtime",
  "services",
  "protocols",
  "mime.types",
  "resolv.conf",
];
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** Looks at this host once (the only impure function here). */
export function probeHostSystem(): HostSystem {
  const dirs = new Map<string, string | null>();
  for (const d of SYSTEM_DIRS) {
    try {
      dirs.set(d, lstatSync(d).isSymbolicLink() ? readlinkSync(d) : null);
    } catch {
      // Not present on this distribution.
    }
  }
  const etc = ETC_ENTRIES.filter((e) => {
    try {
      lstatSync(`/etc/${e}`);
      return true;
    } catch {
      return false;
    }
  });
  return { dirs, etc };
}

export interface SandboxSpec {
  host: HostSystem;
  hostname: string;
  /** The image's files (read-only). */
  image: Bind[];
  /** Per-pod files shadowing the host's: /etc/hosts, /etc/hostname. */
  podEtc: Bind[];
  /** Host directory that becomes the container's private /tmp. */
  tmpDir: string;
  /** Host file bound at the container's terminationMessagePath. */
  terminationLog: Bind;
  mounts: Mount[];
  /** Host device nodes to expose, e.g. /dev/kvm. */
  devices: string[];
  env: Map<string, string>;
  workingDir: string;
  argv: string[];
}

/** Pure: the full `bwrap` argv (without the leading "bwrap"). */
export function bwrapArgs(s: SandboxSpec): string[] {
  const a: string[] = [
    "--die-with-parent",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    s.hostname,
  ];
  // No --new-session: it would setsid() inside and take the command out of the process
  // group we signal on deletion. Output goes to files, so there is no terminal to abuse.
  for (const [dir, target] of s.host.dirs) {
    if (target === null) a.push("--ro-bind", dir, dir);
    else a.push("--symlink", target, dir);
  }
  for (const e of s.host.etc) a.push("--ro-bind", `/etc/${e}`, `/etc/${e}`);
  a.push("--proc", "/proc", "--dev", "/dev", "--ro-bind", "/sys", "/sys", "--tmpfs", "/run");
  a.push("--bind", s.tmpDir, "/tmp");
  for (const b of s.image) a.push("--ro-bind", b.source, b.dest);
  for (const b of s.podEtc) a.push("--ro-bind", b.source, b.dest);
  // Volumes after the image, so a mount over an image path shadows it as in a container.
  for (const m of s.mounts) a.push(m.readOnly ? "--ro-bind" : "--bind", m.source, m.dest);
  for (const d of s.devices) a.push("--dev-bind", d, d);
  a.push("--bind", s.terminationLog.source, s.terminationLog.dest);
  a.push("--clearenv");
  for (const [k, v] of s.env) a.push("--setenv", k, v);
  a.push("--chdir", s.workingDir, "--", ...s.argv);
  return a;
}
