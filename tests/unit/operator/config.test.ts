import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../src/operator/config.js";

describe("operator configuration", () => {
  it("reads the environment, with defaults", () => {
    const c = parseConfig([], {
      KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1",
      POD_NAMESPACE: "kv",
      POD_NAME: "op-0",
    });
    expect(c).toMatchObject({
      namespace: "kv",
      launcherImage: "kubevisor:1",
      imagePullPolicy: "IfNotPresent",
      httpPort: 8080,
      httpHost: "0.0.0.0",
      leaderElection: true,
      workers: 10,
      identity: "op-0",
      statusPollMs: 30_000,
      parallelMigrationsPerCluster: 5,
      parallelMigrationsPerNode: 2,
      guestOutbound: "allow",
    });
  });

  it("reads pull Secret names for launcher pods, refusing names that are not Secret names", () => {
    const base = { KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1" };
    expect(parseConfig([], base).imagePullSecrets).toEqual([]);
    expect(
      parseConfig([], { ...base, KUBEVISOR_IMAGE_PULL_SECRETS: "regcred, mirror.io,,regcred" })
        .imagePullSecrets,
    ).toEqual(["regcred", "mirror.io"]);
    expect(() => parseConfig(["--image-pull-secrets", "Bad_Name"], base)).toThrow(
      /--image-pull-secrets: "Bad_Name"/,
    );
  });

  it("reads whether guests may reach out, refusing anything but allow or deny", () => {
    const base = { KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1" };
    expect(parseConfig([], { ...base, KUBEVISOR_GUEST_OUTBOUND: "deny" }).guestOutbound).toBe(
      "deny",
    );
    expect(
      parseConfig(["--guest-outbound", "allow"], { ...base, KUBEVISOR_GUEST_OUTBOUND: "deny" })
        .guestOutbound,
    ).toBe("allow");
    expect(() => parseConfig([], { ...base, KUBEVISOR_GUEST_OUTBOUND: "none" })).toThrow(
      /--guest-outbound/,
    );
  });

  it("reads the chart's migration limits", () => {
    const c = parseConfig([], {
      KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1",
      KUBEVISOR_PARALLEL_MIGRATIONS_PER_CLUSTER: "7",
      KUBEVISOR_PARALLEL_MIGRATIONS_PER_NODE: "3",
    });
    expect(c).toMatchObject({ parallelMigrationsPerCluster: 7, parallelMigrationsPerNode: 3 });
    expect(() =>
      parseConfig([], {
        KUBEVISOR_LAUNCHER_IMAGE: "i",
        KUBEVISOR_PARALLEL_MIGRATIONS_PER_NODE: "0",
      }),
    ).toThrow(ConfigError);
  });

  it("reads the namespace fairness limit and the admin bounds on migrations", () => {
    const c = parseConfig([], {
      KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1",
      KUBEVISOR_PARALLEL_MIGRATIONS_PER_NAMESPACE: "2",
      KUBEVISOR_MIGRATION_MAX_BANDWIDTH: "64Mi",
      KUBEVISOR_MIGRATION_MAX_COMPLETION_TIMEOUT_PER_GIB: "300",
    });
    expect(c).toMatchObject({
      parallelMigrationsPerNamespace: 2,
      migrationMaxBandwidthBytesPerSec: 64 * 1024 * 1024,
      migrationMaxCompletionTimeoutPerGiB: 300,
    });
    const plain = parseConfig([], { KUBEVISOR_LAUNCHER_IMAGE: "i" });
    expect(plain.migrationMaxBandwidthBytesPerSec).toBeUndefined();
    expect(plain.parallelMigrationsPerNamespace).toBe(3);
    expect(() =>
      parseConfig(["--migration-max-bandwidth", "fast"], { KUBEVISOR_LAUNCHER_IMAGE: "i" }),
    ).toThrow(/--migration-max-bandwidth must be a positive quantity/);
  });

  it("lets flags win over the environment", () => {
    const c = parseConfig(
      [
        "--launcher-image",
        "img:2",
        "--namespace",
        "x",
        "--http-port",
        "9090",
        "--leader-elect",
        "false",
        "--workers",
        "8",
        "--kubeconfig",
        "/k",
        "--status-poll-seconds",
        "5",
      ],
      { KUBEVISOR_LAUNCHER_IMAGE: "img:1", KUBEVISOR_NAMESPACE: "y", KUBECONFIG: "/other" },
    );
    expect(c).toMatchObject({
      launcherImage: "img:2",
      namespace: "x",
      httpPort: 9090,
      leaderElection: false,
      workers: 8,
      kubeconfig: "/k",
      statusPollMs: 5000,
    });
  });

  it("refuses what it cannot use, naming the flag", () => {
    expect(() => parseConfig([], {})).toThrow(/--launcher-image/);
    expect(() => parseConfig(["--launcher-image", "i", "--workers", "0"], {})).toThrow(ConfigError);
    expect(() => parseConfig(["--launcher-image", "i", "--leader-elect", "maybe"], {})).toThrow(
      /--leader-elect/,
    );
    expect(() =>
      parseConfig(["--launcher-image", "i", "--image-pull-policy", "Sometimes"], {}),
    ).toThrow(/--image-pull-policy/);
    expect(() => parseConfig(["--launcher-image", "i", "--bogus"], {})).toThrow();
  });

  it("reads certificate lifetimes as durations, defaulting to a 1 year CA and 30 day leaves", () => {
    const base = { KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1" };
    expect(parseConfig([], base).certificates).toEqual({
      caLifetimeMs: 365 * 86_400_000,
      leafLifetimeMs: 30 * 86_400_000,
      propagationMs: 300_000,
    });
    const short = parseConfig(["--ca-lifetime", "90s", "--ca-propagation", "5s"], {
      ...base,
      KUBEVISOR_LEAF_LIFETIME: "20s",
    });
    expect(short.certificates).toEqual({
      caLifetimeMs: 90_000,
      leafLifetimeMs: 20_000,
      propagationMs: 5000,
    });
  });

  it("refuses a bad duration or a CA too short for its leaves, naming the field", () => {
    const base = { KUBEVISOR_LAUNCHER_IMAGE: "kubevisor:1" };
    expect(() => parseConfig(["--leaf-lifetime", "30 days"], base)).toThrow(
      /--leaf-lifetime must be a duration/,
    );
    expect(() => parseConfig(["--ca-lifetime", "60d"], base)).toThrow(
      /certificates: caLifetime must be at least 3 × \(leafLifetime \+ 2 × propagation\)/,
    );
  });
});
