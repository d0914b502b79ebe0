import { describe, expect, it } from "vitest";
import {
  formatTerminationMessage,
  imageDirName,
  parseTerminationMessage,
  TERMINATION_MESSAGE_MAX_BYTES,
} from "../../../src/api/launcher.js";

describe("imageDirName", () => {
  it("maps an image reference to one safe directory name", () => {
    expect(imageDirName("kubevisor/test-guest:latest")).toBe("kubevisor_test-guest_latest");
    expect(imageDirName("registry.local:5000/os/debian@sha256:ab12")).toBe(
      "registry.local_5000_os_debian_sha256_ab12",
    );
  });

  it("never names the images directory itself or its parent", () => {
    expect(imageDirName("..")).toBe("_..");
    expect(imageDirName("../../etc")).toBe("_.._.._etc");
    expect(imageDirName(".")).toBe("_.");
  });
});

describe("termination message", () => {
  it("round-trips reason and message", () => {
    const text = formatTerminationMessage("GuestCrashed", "QEMU exited\n(signal SIGKILL)");
    expect(text).toBe("GuestCrashed: QEMU exited (signal SIGKILL)");
    expect(parseTerminationMessage(text)).toEqual({
      reason: "GuestCrashed",
      message: "QEMU exited (signal SIGKILL)",
    });
    expect(parseTerminationMessage("GuestShutdown")).toEqual({ reason: "GuestShutdown" });
  });

  it("is not fooled by other text and stays within the kubelet's limit", () => {
    expect(parseTerminationMessage("Error: something")).toBeUndefined();
    expect(parseTerminationMessage("")).toBeUndefined();
    const long = formatTerminationMessage("ConfigError", "é".repeat(5000));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(TERMINATION_MESSAGE_MAX_BYTES);
    expect(long).not.toContain("\uFFFD");
  });
});
