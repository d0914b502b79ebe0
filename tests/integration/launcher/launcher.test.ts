import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  LAUNCHER_PORT,
  launcherServerName,
  parseTerminationMessage,
} from "../../../src/api/launcher.js";
import { createCA, issueCertificate } from "../../../src/util/pki.js";
import { GUEST_BOOT_MARKER } from "../../../src/vmm/index.js";
import {
  LauncherProcess,
  type LaunchOptions,
  type Pki,
  qemuGone,
  testGuestSpec,
  testPki,
} from "./harness.js";

let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
});

describe("a launcher running the test guest", () => {
  let launcher: LauncherProcess;

  beforeAll(async () => {
    launcher = await LauncherProcess.start(
      pki,
      "guest",
      testGuestSpec({
        acceleration: "Auto",
        disks: [
          { name: "scratch", emptyDisk: { size: "64Mi" } },
          { name: "seed", cloudInitNoCloud: { userData: "#cloud-config\n" } },
        ],
      }),
    );
    await launcher.waitReady();
  });

  afterAll(() => launcher.cleanup());

  it("reports Running with the accelerator and boot time on /status", async () => {
    const res = await launcher.get("/status");
    expect(res.status).toBe(200);
    const status = JSON.parse(res.body);
    expect(status).toMatchObject({ phase: "Running", qemuStatus: "running" });
    expect(["KVM", "TCG"]).toContain(status.acceleration);
    expect(status.accelerationReason).toEqual(expect.any(String));
    expect(status.bootTimeMs).toBeGreaterThan(0);
    expect((await launcher.get("/readyz")).status).toBe(200);
    expect((await launcher.get("/healthz")).status).toBe(200);
  });

  it("serves the console over a WebSocket: replay, typed commands, several clients", async () => {
    const first = await launcher.console();
    const second = await launcher.console();
    try {
      // Both attached after boot: the marker comes from the replay buffer.
      await first.waitFor(new RegExp(GUEST_BOOT_MARKER));
      await second.waitFor(new RegExp(GUEST_BOOT_MARKER));
      first.type("echo launcher-$((6*7))");
      await first.waitFor(/launcher-42/);
      await second.waitFor(/launcher-42/);
      // The prepared disks reach the guest; the seed is the cidata volume cloud-init looks for.
      second.type("ls /sys/block; dd if=/dev/vdb bs=1 skip=32808 count=6 2>/dev/null; echo");
      await second.waitFor(/vda\s+vdb/);
      await second.waitFor(/^cidata\r?$/m);
    } finally {
      first.close();
      second.close();
    }
  });

  it("refuses clients without a certificate from the operator's CA at the handshake", async () => {
    await expect(launcher.get("/status", null)).rejects.toThrow();
    const other = await createCA("someone-else");
    const foreign = await issueCertificate(other, { commonName: "intruder", usage: "client" });
    await expect(launcher.get("/status", foreign)).rejects.toThrow();
    expect(launcher.logs).toContain("TLS handshake refused");
  });

  it("admits only the operator's identity: other certificates from the operator's CA are refused", async () => {
    // Client certificates from the operator CA under other names: a look-alike, and a
    // migration's source certificate (every launcher that ever sent a guest held one).
    const lookalike = await issueCertificate(pki.ca, {
      commonName: "kubevisor-operator-2",
      usage: "client",
    });
    const migrationSource = await issueCertificate(pki.ca, {
      commonName: "source.0f1e2d3c.migration.kubevisor.io",
      usage: "client",
    });
    // A launcher's serving certificate (tenants can read those Secrets) has no clientAuth
    // usage: the handshake already fails for it, and the name would be refused next.
    const serving = await pki.server("tests", "someone-elses-vm");
    const refusedAtHandshake = await launcher.get("/status", serving).catch(() => undefined);
    expect(refusedAtHandshake === undefined || refusedAtHandshake.status === 403).toBe(true);
    for (const cert of [lookalike, migrationSource]) {
      for (const [path, method] of [
        ["/status", "GET"],
        ["/migrate", "GET"],
        ["/migrate", "DELETE"],
      ] as const) {
        const res = await launcher.get(path, cert, method);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body).toContain("is not kubevisor-operator");
      }
      const options = {
        servername: launcherServerName(launcher.namespace, launcher.name),
        ca: pki.ca.certPem,
        cert: cert.certPem,
        key: cert.keyPem,
      };
      const ws = new WebSocket(`wss://${launcher.ip}:${LAUNCHER_PORT}/console`, options);
      const opened = await new Promise<boolean>((resolve) => {
        ws.once("open", () => resolve(true));
        ws.once("error", () => resolve(false));
      });
      ws.terminate();
      expect(opened).toBe(false);
    }
    expect(launcher.logs).toContain("client refused");
    expect((await launcher.get("/status")).status).toBe(200);
  });

  it("serves the migration endpoints: a source with nothing under way, never a target", async () => {
    const state = await launcher.get("/migrate");
    expect(state.status).toBe(200);
    expect(JSON.parse(state.body)).toEqual({ role: "source", phase: "None" });
    // It runs the guest: listening for another one would run it twice.
    expect((await launcher.get("/migrate/incoming", undefined, "POST")).status).toBe(409);
    // A send request without the target's answer is refused naming the field.
    const bad = await launcher.get("/migrate", undefined, "POST");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("migrationUri");
  });

  it("shuts the guest down gracefully on SIGTERM and leaves no QEMU behind", async () => {
    const qemu = launcher.qemuPid();
    expect(qemu).toBeDefined();
    launcher.signal("SIGTERM");
    expect(await launcher.exited).toEqual({ code: 0, signal: null });
    expect(parseTerminationMessage(launcher.terminationMessage())).toEqual({
      reason: "GuestStopped",
      // The test guest has no agent: ACPI it is.
      message: "the guest shut down on request (ACPI power button)",
    });
    expect(launcher.logs).toContain('"reason":"guest-shutdown"');
    expect(await qemuGone(qemu as number)).toBe(true);
  });
});

describe("a launcher whose guest ends", () => {
  const launchers: LauncherProcess[] = [];
  const start = async (name: string, spec: unknown, opts?: LaunchOptions) => {
    const l = await LauncherProcess.start(pki, name, spec, opts);
    launchers.push(l);
    return l;
  };
  afterEach(async () => {
    await Promise.all(launchers.splice(0).map((l) => l.cleanup()));
  });

  it("exits 1 with GuestCrashed when QEMU is killed from outside", async () => {
    const launcher = await start("crash", testGuestSpec());
    await launcher.waitReady();
    process.kill(launcher.qemuPid() as number, "SIGKILL");
    expect(await launcher.exited).toEqual({ code: 1, signal: null });
    expect(parseTerminationMessage(launcher.terminationMessage())).toMatchObject({
      reason: "GuestCrashed",
      message: expect.stringContaining("signal SIGKILL"),
    });
  });

  it("exits 0 with GuestShutdown when the guest powers itself off", async () => {
    const launcher = await start("poweroff", testGuestSpec());
    await launcher.waitReady();
    const console = await launcher.console();
    console.type("poweroff -f");
    expect(await launcher.exited).toEqual({ code: 0, signal: null });
    expect(parseTerminationMessage(launcher.terminationMessage())?.reason).toBe("GuestShutdown");
  });

  it("stops a guest that is still booting when SIGTERM arrives", async () => {
    // The stop waits for the boot to finish, then spends what is left of the grace period. A
    // guest that has only just booted may miss the ACPI press (the test guest arms its
    // listener in the background), so the grace is short: gracefully or not, it must stop.
    const launcher = await start("early-stop", testGuestSpec({ terminationGracePeriodSeconds: 8 }));
    while (launcher.qemuPid() === undefined) await new Promise((r) => setTimeout(r, 20));
    launcher.signal("SIGTERM");
    expect(await launcher.exited).toEqual({ code: 0, signal: null });
    expect(parseTerminationMessage(launcher.terminationMessage())?.reason).toBe("GuestStopped");
    expect(await qemuGone(launcher.qemuPid() as number)).toBe(true);
  });

  it("exits 1 with BootFailed when the guest misses its boot deadline", async () => {
    const launcher = await start("late", testGuestSpec(), {
      env: {
        KUBEVISOR_BOOT_MARKER: "A-LINE-THE-GUEST-NEVER-PRINTS",
        KUBEVISOR_BOOT_TIMEOUT_SECONDS: "2",
      },
    });
    expect(await launcher.exited).toEqual({ code: 1, signal: null });
    expect(parseTerminationMessage(launcher.terminationMessage())).toEqual({
      reason: "BootFailed",
      message: "guest not ready within 2000 ms",
    });
    expect(await qemuGone(launcher.qemuPid() as number)).toBe(true);
  });

  it("exits 2 with ConfigError, naming the field, for a spec it cannot run", async () => {
    const launcher = await start("bad", testGuestSpec({ memory: { size: "1Mi" } }));
    expect(await launcher.exited).toEqual({ code: 2, signal: null });
    expect(parseTerminationMessage(launcher.terminationMessage())).toMatchObject({
      reason: "ConfigError",
      message: expect.stringContaining("spec.memory.size"),
    });
  });

  it("starts as a migration target: QEMU waits for the guest, never boots it, not Ready", async () => {
    const launcher = await start("target", testGuestSpec(), {
      specFiles: { "migration-target": "true\n" },
    });
    let status: { phase?: string; qemuStatus?: string } = {};
    while (status.phase !== "WaitingForMigration") {
      await new Promise((r) => setTimeout(r, 200));
      status = JSON.parse((await launcher.get("/status").catch(() => ({ body: "{}" }))).body);
    }
    expect(status.qemuStatus).toBe("inmigrate");
    expect((await launcher.get("/readyz")).status).toBe(503);
    expect(JSON.parse((await launcher.get("/migrate")).body)).toEqual({
      role: "target",
      phase: "None",
    });
    // Nothing to send before a guest arrived.
    expect((await launcher.get("/migrate", undefined, "POST")).status).toBe(400);
    expect(launcher.logs).not.toContain(GUEST_BOOT_MARKER);
  });
});
