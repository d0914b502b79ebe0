/**
 * The product image built from the Dockerfile (src/local/image), proved without containerd:
 * the docker-archive that real nodes import is unpacked with buildah and its root run the way a
 * restricted pod runs it: uid/gid 65532, read-only root, a tmpfs /tmp (an emptyDir), a minimal
 * /dev. Builds the image when the tree changed (cold: several minutes; see its README).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildah, defaultStore } from "../../../src/local/image/buildah.js";
import { buildProductImage, type ProductImage } from "../../../src/local/image/index.js";
import { nodeRuntimeVersion } from "../../../src/local/image/node-runtime.js";
import { createProgress } from "../../../src/local/progress.js";
import {
  OVMF_CODE,
  OVMF_CODE_SECBOOT,
  OVMF_VARS,
  OVMF_VARS_MS,
} from "../../../src/vmm/firmware.js";

const root = join(import.meta.dirname, "..", "..", "..");
const store = defaultStore();
let image: ProductImage;
let ctr = "";
let rootfs = "";
let env: string[] = [];

beforeAll(async () => {
  image = await buildProductImage({ progress: createProgress() });
  // From the archive, not the build store's tag: this is what containerd imports.
  ctr = (
    await buildah(store, ["from", "--pull-never", "--quiet", `docker-archive:${image.archive}`])
  ).trim();
  rootfs = (await buildah(store, ["mount", ctr])).trim();
  const info = JSON.parse(await buildah(store, ["inspect", "--type", "container", ctr])) as {
    OCIv1: { config: { Env?: string[]; User?: string; WorkingDir?: string; Cmd?: string[] } };
  };
  const config = info.OCIv1.config;
  expect(config.User).toBe("65532:65532");
  expect(config.WorkingDir).toBe("/app");
  expect(config.Cmd).toEqual(["node", "dist/operator/main.js"]);
  env = config.Env ?? [];
}, 3_600_000);

afterAll(async () => {
  if (!ctr) return;
  await buildah(store, ["umount", ctr]).catch(() => {});
  await buildah(store, ["rm", ctr]).catch(() => {});
});

/**
 * Mounts for the container in a private mount namespace, then drops to 65532 with the image's
 * environment (HOME=/ as the kubelet sets it for a uid without a passwd entry). With `kvm`, a
 * private /dev/kvm node owned by the container's user, as the node agent's device plugin gives.
 */
const SETUP = `set -e
R="$1"; KVM="$2"; shift 2
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for d in null zero full random urandom; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
if [ "$KVM" = 1 ]; then mknod -m 600 "$R/dev/kvm" c 10 232; chown 65532:65532 "$R/dev/kvm"; fi
exec chroot --userspec=65532:65532 "$R" "$@"`;

function run(argv: string[], opts: { kvm?: boolean } = {}) {
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      SETUP,
      "sh",
      rootfs,
      opts.kvm ? "1" : "0",
      "/usr/bin/env",
      "-i",
      "-C",
      "/app",
      ...env,
      "HOME=/",
      ...argv,
    ],
    { encoding: "utf8", timeout: 180_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run an ES module snippet with the image's node, from /app. */
function node(script: string, opts: { kvm?: boolean } = {}) {
  return run(["node", "--input-type=module", "-e", script], opts);
}

describe("the product image", () => {
  it("runs as uid 65532 on a read-only root", () => {
    expect(run(["id", "-u"]).stdout.trim()).toBe("65532");
    const w = run(["touch", "/app/x"]);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only file system/);
  });

  it("ships the pinned Node.js 24", () => {
    const r = run(["node", "--version"]);
    expect(r.stdout.trim()).toBe(`v${nodeRuntimeVersion(root)}`);
    expect(r.stdout).toMatch(/^v24\./);
  });

  it("ships QEMU and qemu-img, and the firmware where src/vmm/firmware.ts looks", () => {
    expect(run(["qemu-system-x86_64", "--version"]).stdout).toMatch(/QEMU emulator version/);
    expect(run(["qemu-img", "--version"]).stdout).toMatch(/qemu-img version/);
    for (const f of [OVMF_CODE, OVMF_CODE_SECBOOT, OVMF_VARS, OVMF_VARS_MS]) {
      expect(run(["test", "-r", f]).code, f).toBe(0);
    }
    // SeaBIOS (Debian's QEMU searches /usr/share/seabios); genisoimage for cloud-init seeds.
    expect(run(["test", "-r", "/usr/share/seabios/bios-256k.bin"]).code).toBe(0);
    expect(run(["genisoimage", "--version"]).code).toBe(0);
  });

  it("holds the built code and its production dependencies: the entry points load", () => {
    for (const entry of ["dist/operator/main.js", "dist/launcher/main.js"]) {
      expect(existsSync(join(rootfs, "app", entry)), entry).toBe(true);
    }
    expect(existsSync(join(rootfs, "app", "node_modules", "vitest"))).toBe(false);
    const r = node(
      `await import("@kubernetes/client-node"); await import("./dist/launcher/launcher.js"); console.log("ok")`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("ok");
  });

  it("boots the packaged probe guest under TCG as the non-root user", () => {
    const r = node(`
      import { Vm } from "./dist/vmm/vm.js";
      import { GUEST_BOOT_MARKER, testGuestKernel } from "./dist/vmm/guest-image.js";
      const vm = await Vm.start({
        accel: "tcg", bootTimeoutMs: 120000, exitOnReboot: true,
        readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
        config: { name: "image-test", machine: "q35", cores: 1, memoryMiB: 128,
                  kernel: testGuestKernel("q35"), disks: [] },
      });
      console.log(JSON.stringify({ booted: true, accel: vm.accel }));
      await vm.kill();`);
    expect(r.stdout, r.stderr).toContain('"booted":true');
  });

  it("runs the launcher's KVM probe: Auto reports why, with no /dev/kvm and with one", () => {
    const choose = `
      import { chooseAccelerator } from "./dist/vmm/accel.js";
      const c = await chooseAccelerator("Auto", { cacheFile: "/tmp/kvm-probe.json" });
      console.log("CHOICE " + JSON.stringify({ accel: c.accel, reason: c.reason }));`;
    // Our line is marked: the vmm's JSON logs (QEMU's exit) may come before or after it.
    const choice = (stdout: string) =>
      JSON.parse(
        stdout
          .split("\n")
          .find((l) => l.startsWith("CHOICE "))
          ?.slice(7) ?? "{}",
      ) as { accel?: string; reason?: string };
    const without = choice(node(choose).stdout);
    expect(without).toEqual({ accel: "tcg", reason: "KVM unavailable (/dev/kvm: ENOENT)" });

    if (!existsSync("/dev/kvm")) return;
    // The device opens as 65532, so the probe boots the packaged guest under KVM. On these
    // hosts KVM cannot run it: Auto falls back with the probe's reason, which must not be a
    // missing guest or QEMU.
    const r = node(choose, { kvm: true });
    const withKvm = choice(r.stdout);
    console.log(`KVM probe in the image: ${withKvm.accel}, ${withKvm.reason}`);
    expect(withKvm.reason, r.stdout + r.stderr).toMatch(
      /^(KVM probe booted|KVM present but unusable)/,
    );
    expect(withKvm.reason).not.toMatch(/not found|ENOENT|npm run guest/);
  });
});
