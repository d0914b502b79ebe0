import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { $ } from "dax-sh";
import { writeOciArchive } from "../../src/local/containerd/oci.js";

/**
 * The real-node tests' image, made here without a registry: Debian's busybox-static (shell,
 * httpd, nc, wget, ip) plus the host's curl and the libraries it links (for a TLS-verified
 * request to the apiserver), as one layer.
 */

export const TEST_IMAGE = "kubevisor.local/rn-test:v1";

const APPLETS = [
  "sh",
  "cat",
  "echo",
  "sleep",
  "httpd",
  "wget",
  "nc",
  "ip",
  "mkdir",
  "hostname",
  "ls",
];

async function copyWithLibs(rootfs: string, bin: string): Promise<void> {
  const copy = (src: string) => {
    const dst = join(rootfs, src);
    if (existsSync(dst)) return;
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(src, dst);
  };
  copy(bin);
  const ldd = await $`ldd ${bin}`.text();
  for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) if (m[1]) copy(m[1]);
}

export async function buildTestImage(dir: string): Promise<string> {
  const out = join(dir, "rn-test.oci.tar");
  if (existsSync(out)) return out;
  const rootfs = mkdtempSync(join(tmpdir(), "kv-rn-img-"));
  try {
    mkdirSync(join(rootfs, "bin"), { recursive: true });
    copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"));
    for (const a of APPLETS) symlinkSync("busybox", join(rootfs, "bin", a));
    await copyWithLibs(rootfs, "/usr/bin/curl");
    for (const d of ["tmp", "etc", "srv"]) mkdirSync(join(rootfs, d), { recursive: true });
    await writeOciArchive({ ref: TEST_IMAGE, rootfs, out, config: { cmd: ["/bin/sh"] } });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return out;
}
