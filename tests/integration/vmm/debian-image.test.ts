import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  debianImageBuilt,
  debianImageDir,
  debianImageDisk,
} from "../../../src/vmm/debian-image.js";
import {
  agentWithRetry,
  freePort,
  generateSshKey,
  makeSeedIso,
  sshWithRetry,
} from "../../lib/debian-guest.js";
import { type Firmware, type PlainGuest, startPlainGuest } from "../../lib/plain-qemu.js";

/**
 * The project's Debian 12 cloud image boots under plain QEMU (TCG, q35) with SeaBIOS, OVMF
 * and OVMF with Secure Boot enforcing; cloud-init takes the SSH key from a NoCloud seed, and
 * the guest agent answers on its virtio-serial socket. Each case also proves which firmware
 * booted it, so a disk that only boots one way cannot pass all three.
 */
const built = debianImageBuilt();
if (!built) {
  console.warn(
    `[debian-image] skipped: no Debian cloud image in ${debianImageDir()}; build it with 'npm run guest'`,
  );
}

// Generous: on a shared 2-core host under load a TCG boot to SSH has taken over 5 minutes.
const BOOT_DEADLINE_MS = 900_000;
const EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/** What each firmware must look like from inside the guest. */
const FIRMWARE_PROOF: Record<Firmware, { command: string; expect: string }> = {
  bios: { command: "test -d /sys/firmware/efi && echo efi || echo bios", expect: "bios" },
  uefi: { command: "test -d /sys/firmware/efi && echo efi || echo bios", expect: "efi" },
  "uefi-secureboot": {
    // The SecureBoot variable: 4 attribute bytes, then 1 when enforcing.
    command: `od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-${EFI_GLOBAL} | awk '{print $NF}'`,
    expect: "1",
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.skipIf(!built)("Debian cloud image under plain QEMU", () => {
  it.each<Firmware>(["bios", "uefi", "uefi-secureboot"])(
    "boots under %s: SSH with the seeded key, Debian 12, guest agent",
    async (firmware) => {
      const dir = mkdtempSync(join(tmpdir(), `kubevisor-debian-${firmware}-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const key = await generateSshKey(dir);
      const seedIso = await makeSeedIso(dir, {
        instanceId: `test-${firmware}-${Date.now()}`,
        hostname: `debian-${firmware}`,
        sshPublicKey: key.publicKey,
      });
      const sshPort = await freePort();
      const guest: PlainGuest = await startPlainGuest({
        dir,
        disk: debianImageDisk(),
        seedIso,
        firmware,
        sshPort,
        diskSize: "3G",
      });
      cleanups.push(() => guest.stop());
      const deadline = Date.now() + BOOT_DEADLINE_MS;
      const target = { port: sshPort, key };
      const since = () => ((Date.now() - guest.startedAt) / 1000).toFixed(1);

      const [kernel, agentAt, sshAt] = await Promise.all([
        guest.waitForConsole(/Linux version/),
        agentWithRetry(guest.agentSocket, "guest-ping", deadline).then(since),
        sshWithRetry(target, "true", deadline).then(since),
      ]);
      console.log(
        `[debian-image] ${firmware}: kernel first line ${(kernel.atMs / 1000).toFixed(1)} s, ` +
          `agent answers ${agentAt} s, first SSH ${sshAt} s`,
      );

      const osRelease = await sshWithRetry(target, "cat /etc/os-release", deadline);
      expect(osRelease).toContain('VERSION_ID="12"');
      expect(osRelease).toContain("ID=debian");
      const proof = FIRMWARE_PROOF[firmware];
      expect((await sshWithRetry(target, proof.command, deadline)).trim()).toBe(proof.expect);
      // Per-instance identity, nothing baked in: ed25519 host key only, a fresh machine-id.
      const identity = await sshWithRetry(
        target,
        "ls /etc/ssh/ssh_host_*_key; cat /etc/machine-id; hostname",
        deadline,
      );
      expect(identity.split("\n").filter((l) => l.startsWith("/etc/ssh/"))).toEqual([
        "/etc/ssh/ssh_host_ed25519_key",
      ]);
      expect(identity).toMatch(/^[0-9a-f]{32}$/m);
      expect(identity).toContain(`debian-${firmware}`);

      const info = (await agentWithRetry(guest.agentSocket, "guest-info", deadline)) as {
        version: string;
        supported_commands: { name: string }[];
      };
      expect(info.supported_commands.map((c) => c.name)).toContain("guest-get-osinfo");
      const os = (await agentWithRetry(guest.agentSocket, "guest-get-osinfo", deadline)) as Record<
        string,
        string
      >;
      expect(os).toMatchObject({ id: "debian", "version-id": "12" });
    },
    BOOT_DEADLINE_MS + 60_000,
  );
});
