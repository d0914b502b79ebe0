import { describe, expect, it } from "vitest";
import {
  DEBIAN_CLOUD_IMAGE,
  imageRepository,
  KUBEVISOR_IMAGE,
  TEST_GUEST_IMAGE,
} from "../../../../src/local/images.js";
import { APP_DIR, resolveImage } from "../../../../src/local/node/image-store.js";

const store = {
  checkoutDir: "/src/kubevisor",
  nodeRuntimeDir: undefined,
  guestDir: "/cache/guest/current",
  debianDir: "/cache/debian-cloud/current",
};

describe("imageRepository", () => {
  it.each([
    ["kubevisor/kubevisor:1.2", "kubevisor/kubevisor"],
    ["docker.io/kubevisor/kubevisor:latest", "kubevisor/kubevisor"],
    ["kubevisor/test-guest@sha256:abc", "kubevisor/test-guest"],
    ["localhost:5000/x/y:1", "localhost:5000/x/y"],
    ["busybox", "busybox"],
  ])("%s → %s", (ref, repo) => expect(imageRepository(ref)).toBe(repo));
});

describe("resolveImage", () => {
  it("resolves the Kubevisor image, any tag, to this checkout at /app", () => {
    const r = resolveImage("docker.io/kubevisor/kubevisor:v9", store);
    expect(r).toEqual({
      ok: true,
      image: {
        ref: "docker.io/kubevisor/kubevisor:v9",
        dir: "/src/kubevisor",
        rootBinds: [{ source: "/src/kubevisor", dest: APP_DIR }],
        workingDir: APP_DIR,
      },
    });
    expect(resolveImage(KUBEVISOR_IMAGE, store).ok).toBe(true);
  });

  it("gives the Kubevisor image the pinned Node.js at /usr/local, as in the image", () => {
    const r = resolveImage(KUBEVISOR_IMAGE, { ...store, nodeRuntimeDir: "/cache/node/24.22.3" });
    expect(r.ok && r.image.rootBinds).toEqual([
      { source: "/src/kubevisor", dest: APP_DIR },
      { source: "/cache/node/24.22.3", dest: "/usr/local" },
    ]);
  });

  it("resolves the test guest to the built guest directory", () => {
    const r = resolveImage(TEST_GUEST_IMAGE, store);
    expect(r.ok && r.image.dir).toBe("/cache/guest/current");
  });

  it("says how to build the guest when it is missing", () => {
    const r = resolveImage(TEST_GUEST_IMAGE, { ...store, guestDir: undefined });
    expect(r).toMatchObject({ ok: false, reason: "ErrImagePull" });
    expect(!r.ok && r.message).toContain("npm run guest");
  });

  it("serves the Debian cloud image as a containerDisk: the disk at /disk/disk.qcow2", () => {
    const r = resolveImage(DEBIAN_CLOUD_IMAGE, store);
    expect(r).toEqual({
      ok: true,
      image: {
        ref: "kubevisor/debian-cloud:12",
        dir: "/cache/debian-cloud/current",
        rootBinds: [{ source: "/cache/debian-cloud/current/disk", dest: "/disk" }],
        workingDir: "/",
      },
    });
    const missing = resolveImage("docker.io/kubevisor/debian-cloud:12", {
      ...store,
      debianDir: undefined,
    });
    expect(missing).toMatchObject({ ok: false, reason: "ErrImagePull" });
    expect(!missing.ok && missing.message).toContain("npm run guest");
  });

  it.each(["constructor", "__proto__", "toString:1", "hasOwnProperty"])(
    "does not take object internals for images (%s)",
    (ref) => {
      const r = resolveImage(ref, store);
      expect(r).toMatchObject({ ok: false, reason: "ErrImagePull" });
      expect(!r.ok && r.message).toContain("not in the local image store:");
    },
  );

  it("refuses any other image with a message naming it", () => {
    const r = resolveImage("nginx:1.25", store);
    expect(r).toMatchObject({ ok: false, reason: "ErrImagePull" });
    expect(!r.ok && r.message).toContain("nginx:1.25");
  });
});
