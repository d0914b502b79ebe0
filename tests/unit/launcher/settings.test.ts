import { describe, expect, it } from "vitest";
import { SettingsError, settingsFromEnv } from "../../../src/launcher/settings.js";

describe("settingsFromEnv", () => {
  it("uses the pod's mounted paths and ports by default", () => {
    const s = settingsFromEnv({ POD_IP: "10.1.2.3" });
    expect(s).toMatchObject({
      podIP: "10.1.2.3",
      port: 8443,
      probePort: 8444,
      specFile: "/var/run/kubevisor/vm/vm.json",
      migrationTargetFile: "/var/run/kubevisor/vm/migration-target",
      tlsDir: "/var/run/kubevisor/tls",
      disksDir: "/var/run/kubevisor/disks",
      imagesDir: "/var/run/kubevisor/images",
      pvcsDir: "/var/run/kubevisor/pvcs",
      pvcDevicesDir: "/var/run/kubevisor/pvc-devices",
      cloudInitDir: "/var/run/kubevisor/cloud-init",
      runDir: "/var/run/kubevisor/disks/run",
      guestOutbound: "allow",
      terminationLog: "/dev/termination-log",
      bootTimeoutMs: 300_000,
      migrationWaitMs: 300_000,
      awaitStart: false,
      startWaitMs: 600_000,
    });
    expect(s.graceSeconds).toBeUndefined();
    expect(s.bootMarker).toBeUndefined();
  });

  it("takes the overrides tests and local nodes use", () => {
    const s = settingsFromEnv({
      POD_IP: "127.0.0.9",
      KUBEVISOR_LAUNCHER_PORT: "18443",
      KUBEVISOR_LAUNCHER_PROBE_PORT: "18444",
      KUBEVISOR_SPEC_DIR: "/t/spec",
      KUBEVISOR_IMAGES_DIR: "/t/images",
      KUBEVISOR_TERMINATION_LOG: "/t/term",
      KUBEVISOR_GRACE_SECONDS: "12",
      KUBEVISOR_BOOT_TIMEOUT_SECONDS: "40",
      KUBEVISOR_BOOT_MARKER: "BOOTED",
      KUBEVISOR_DISKS_DIR: "/t/disks",
      KUBEVISOR_PVC_DEVICES_DIR: "/t/devices",
      KUBEVISOR_CLOUDINIT_DIR: "/t/cloud-init",
      KUBEVISOR_GUEST_OUTBOUND: "deny",
    });
    expect(s).toMatchObject({
      port: 18443,
      probePort: 18444,
      specFile: "/t/spec/vm.json",
      imagesDir: "/t/images",
      terminationLog: "/t/term",
      graceSeconds: 12,
      bootTimeoutMs: 40_000,
      bootMarker: "BOOTED",
      runDir: "/t/disks/run",
      pvcDevicesDir: "/t/devices",
      cloudInitDir: "/t/cloud-init",
      guestOutbound: "deny",
    });
  });

  it("refuses a missing POD_IP or a malformed number", () => {
    expect(() => settingsFromEnv({})).toThrow(SettingsError);
    expect(() => settingsFromEnv({ POD_IP: "pod" })).toThrow(/POD_IP/);
    expect(() => settingsFromEnv({ POD_IP: "127.0.0.1", KUBEVISOR_GRACE_SECONDS: "x" })).toThrow(
      /KUBEVISOR_GRACE_SECONDS/,
    );
    expect(() =>
      settingsFromEnv({ POD_IP: "127.0.0.1", KUBEVISOR_GUEST_OUTBOUND: "open" }),
    ).toThrow(/KUBEVISOR_GUEST_OUTBOUND must be one of allow, deny, got "open"/);
  });
});
