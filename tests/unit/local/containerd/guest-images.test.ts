import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { describe, expect, it } from "vitest";
import {
  guestArchiveName,
  guestImageArchive,
  testGuestSource,
} from "../../../../src/local/containerd/guest-images.js";
import { criImageName, TEST_GUEST_IMAGE } from "../../../../src/local/images.js";

describe("criImageName: the name a kubelet resolves an image reference to", () => {
  it.each([
    ["kubevisor/test-guest:0.1.0", "docker.io/kubevisor/test-guest:0.1.0"],
    ["busybox:1", "docker.io/library/busybox:1"],
    ["docker.io/kubevisor/kubevisor:0.1.0", "docker.io/kubevisor/kubevisor:0.1.0"],
    ["kubevisor.local/pause:v1", "kubevisor.local/pause:v1"],
    ["localhost/x/y:1", "localhost/x/y:1"],
    ["registry:5000/x:1", "registry:5000/x:1"],
  ])("%s → %s", (ref, name) => {
    expect(criImageName(ref)).toBe(name);
  });
});

describe("the test guest as an OCI image", () => {
  it("keys the archive by the guest build and the reference", () => {
    const a = guestArchiveName("kubevisor/test-guest:0.1.0", '{"kernelVersion":"6.1"}');
    expect(a).toMatch(/^guest-[0-9a-f]{16}\.oci\.tar$/);
    expect(guestArchiveName("kubevisor/test-guest:0.1.0", '{"kernelVersion":"6.2"}')).not.toBe(a);
    expect(guestArchiveName("kubevisor/test-guest:0.2.0", '{"kernelVersion":"6.1"}')).not.toBe(a);
  });

  it("writes boot/ readable by anyone, named as the kubelet resolves it", async () => {
    const work = mkdtempSync(join(tmpdir(), "kv-guest-img-test-"));
    const prev = process.env.KUBEVISOR_CACHE;
    process.env.KUBEVISOR_CACHE = join(work, "cache");
    try {
      const guest = join(work, "guest");
      mkdirSync(join(guest, "boot"), { recursive: true, mode: 0o700 });
      writeFileSync(join(guest, "manifest.json"), `{"kernelVersion":"test-${Date.now()}"}`);
      writeFileSync(join(guest, "boot", "vmlinuz"), "kernel", { mode: 0o600 });
      const archive = await guestImageArchive(testGuestSource(guest));
      const index = JSON.parse(await $`tar -xOf ${archive} ./index.json`.text());
      expect(index.manifests[0].annotations["io.containerd.image.name"]).toBe(
        `docker.io/${TEST_GUEST_IMAGE}`,
      );
      const blob = (d: string) =>
        $`tar -xOf ${archive} ./blobs/sha256/${d.slice("sha256:".length)}`;
      const manifest = JSON.parse(await blob(index.manifests[0].digest).text());
      const layer = await blob(manifest.layers[0].digest).pipe($`tar -tvf -`).text();
      // The launcher (uid 65532) reads the kernel through an image volume.
      expect(layer).toMatch(/^drwxr-xr-x 0\/0 .* \.\/boot\/$/m);
      expect(layer).toMatch(/^-rw-r--r-- 0\/0 .* \.\/boot\/vmlinuz$/m);
      expect(await guestImageArchive(testGuestSource(guest))).toBe(archive);
    } finally {
      if (prev === undefined) delete process.env.KUBEVISOR_CACHE;
      else process.env.KUBEVISOR_CACHE = prev;
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("says how to build the guest when it is missing", async () => {
    await expect(guestImageArchive(testGuestSource("/nonexistent"))).rejects.toThrow(
      /npm run guest/,
    );
  });
});
