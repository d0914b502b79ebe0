import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LauncherStatus, parseTerminationMessage } from "../../../src/api/launcher.js";
import { debianImageBuilt, debianImageDir } from "../../../src/vmm/debian-image.js";
import { generateSshKey, type SshKey, sshWithRetry } from "../../lib/debian-guest.js";
import { LauncherProcess, type Pki, testPki } from "./harness.js";

/**
 * The project's Debian 12 cloud image through a real launcher, as a pod would run it: UEFI
 * firmware from a container-disk-style image dir, cloud-init user-data from a Secret-style
 * file, the guest agent polled into /status, outbound traffic denied, and SIGTERM stopping
 * the guest through its agent.
 */
const built = debianImageBuilt();
if (!built) {
  console.warn(`[launcher/debian] skipped: no Debian image in ${debianImageDir()} (npm run guest)`);
}

const DEBIAN_REF = "kubevisor/debian-cloud:12";
/** TCG on a busy 2-core host: the plain-QEMU trial saw up to 92 s to SSH; allow plenty. */
const BOOT_DEADLINE_MS = 420_000;

/** Each firmware, and how the guest shows which one booted it. */
const FIRMWARES = [
  { type: "UEFI", proof: "firmware=efi" },
  { type: "BIOS", proof: "firmware=bios" },
] as const;

describe.skipIf(!built).each(FIRMWARES)(
  "a launcher running the Debian cloud image ($type)",
  ({ type, proof }) => {
    let pki: Pki;
    let dir: string;
    let key: SshKey;
    let launcher: LauncherProcess;
    /** Only ever in the Secret's file: must reach the guest and nowhere else. */
    const secretMarker = `kv-secret-${randomBytes(8).toString("hex")}`;

    beforeAll(async () => {
      pki = await testPki();
      dir = mkdtempSync(join(tmpdir(), "kv-launcher-debian-"));
      key = await generateSshKey(dir);
      const userData = [
        "#cloud-config",
        "ssh_authorized_keys:",
        `  - ${key.publicKey}`,
        "write_files:",
        "  - path: /var/tmp/from-secret",
        `    content: ${secretMarker}`,
        "",
      ].join("\n");
      launcher = await LauncherProcess.start(
        pki,
        "debian",
        {
          memory: { size: "512Mi" },
          acceleration: "Auto",
          terminationGracePeriodSeconds: 180,
          firmware: { type },
          disks: [
            { name: "root", containerDisk: { image: DEBIAN_REF, path: "/disk/disk.qcow2" } },
            { name: "seed", cloudInitNoCloud: { userDataSecretRef: { name: "debian-userdata" } } },
          ],
          network: { ports: [{ name: "ssh", port: 22 }] },
        },
        {
          images: { [DEBIAN_REF]: debianImageDir() },
          files: { "cloud-init/seed/userdata/userdata": userData },
          // A cloud image prints nothing we know: up once QEMU runs its vCPUs.
          env: { KUBEVISOR_BOOT_MARKER: "" },
        },
      );
      await launcher.waitReady(120_000);
    }, 180_000);

    afterAll(async () => {
      await launcher?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const status = async (): Promise<LauncherStatus> =>
      JSON.parse((await launcher.get("/status")).body) as LauncherStatus;
    const target = () => ({ host: launcher.ip, port: 22, key });

    it(
      "reports the guest agent on /status: connected, Debian 12, the guest's NIC",
      async () => {
        const deadline = Date.now() + BOOT_DEADLINE_MS;
        const addresses = (s: LauncherStatus) =>
          (s.guest?.interfaces ?? []).flatMap((i) => i.ipAddresses);
        let s = await status();
        // The agent may answer before DHCP is done: the address follows within a poll or two.
        while (!s.guest?.agentConnected || !addresses(s).includes("10.0.2.15")) {
          if (Date.now() > deadline) throw new Error(`agent never reported: ${JSON.stringify(s)}`);
          await new Promise((r) => setTimeout(r, 2_000));
          s = await status();
        }
        expect(s.phase).toBe("Running");
        expect(s.guest?.osInfo).toMatchObject({ id: "debian", version: "12" });
        expect(s.guest?.osInfo?.kernelRelease).toMatch(/cloud-amd64/);
        expect(s.guest?.interfaces?.some((i) => i.name === "lo")).toBe(false);
        expect(JSON.stringify(s)).not.toContain(secretMarker);
      },
      BOOT_DEADLINE_MS + 30_000,
    );

    it(
      "booted through its firmware with cloud-init from the Secret: key, hostname, instance-id",
      async () => {
        const out = await sshWithRetry(
          target(),
          [
            "test -d /sys/firmware/efi && echo firmware=efi || echo firmware=bios",
            ". /etc/os-release && echo os=$ID-$VERSION_ID",
            "echo host=$(hostname)",
            "echo iid=$(cat /var/lib/cloud/data/instance-id)",
            "echo secret=$(cat /var/tmp/from-secret)",
          ].join("; "),
          Date.now() + BOOT_DEADLINE_MS,
        );
        expect(out).toContain(proof);
        expect(out).toContain("os=debian-12");
        expect(out).toContain("host=debian");
        expect(out).toContain("iid=uid-debian");
        expect(out).toContain(`secret=${secretMarker}`);
        // The launcher read the Secret but never wrote it anywhere it can be seen.
        expect(launcher.logs).not.toContain(secretMarker);
      },
      BOOT_DEADLINE_MS + 30_000,
    );

    it("confines the guest: nothing on the host is reachable from it", async () => {
      // A listener on the host's loopback: user-mode networking maps it to 10.0.2.2 in the guest.
      let reached = false;
      const server: Server = createServer((socket) => {
        reached = true;
        socket.destroy();
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as { port: number }).port;
      try {
        const out = await sshWithRetry(
          target(),
          `timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.2.2/${port}' 2>/dev/null && echo reached || echo blocked`,
          // Generous: on a loaded host one SSH login can take tens of seconds under TCG.
          Date.now() + 240_000,
        );
        expect(out.trim()).toBe("blocked");
        expect(reached).toBe(false);
      } finally {
        server.close();
      }
    }, 300_000);

    it("stops the guest through its agent on SIGTERM", async () => {
      launcher.signal("SIGTERM");
      expect(await launcher.exited).toEqual({ code: 0, signal: null });
      expect(parseTerminationMessage(launcher.terminationMessage())).toEqual({
        reason: "GuestStopped",
        message: "the guest shut down on request through its agent",
      });
      expect(launcher.logs).toContain('"stopRequest":"agent"');
    }, 200_000);
  },
);
