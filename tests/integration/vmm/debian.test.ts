/**
 * The project's Debian 12 cloud image booted through `Vm` from its disk (SeaBIOS, and OVMF
 * with Secure Boot enforcing), talked to through its guest agent and (with
 * KUBEVISOR_DEBIAN_SHUTDOWN_TEST=1, once the image can power off) shut down by it.
 * Skipped until the image is built (`npm run guest`). Outbound traffic is confined.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { cacheDir } from "../../../src/util/paths.js";
import { AgentUnavailableError, type GuestAgent } from "../../../src/vmm/agent.js";
import type { FirmwareConfig } from "../../../src/vmm/config.js";
import { OVMF_VARS_MS, prepareUefiVars } from "../../../src/vmm/firmware.js";
import { Vm } from "../../../src/vmm/vm.js";
import { makeSeedIso } from "../../lib/debian-guest.js";
import { createOverlay } from "../../lib/plain-qemu.js";
import { track } from "./helpers.js";

/** Where the image build puts its disk (src/vmm/debian-image.ts on the image branch). */
const imageDisk = join(
  process.env.KUBEVISOR_DEBIAN_IMAGE_DIR ?? cacheDir("debian-cloud", "current"),
  "disk",
  "disk.qcow2",
);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Ping until the agent in the booting guest answers (cloud-init runs first: ~1 min). */
async function untilAgentAnswers(agent: GuestAgent, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      await agent.ping();
      return Date.now() - t0;
    } catch (err) {
      if (!(err instanceof AgentUnavailableError) || Date.now() - t0 > timeoutMs) throw err;
      await sleep(1_000);
    }
  }
}

describe.skipIf(!existsSync(imageDisk))("the Debian cloud image through Vm", () => {
  it.each([
    ["SeaBIOS", (_dir: string): FirmwareConfig => ({ type: "bios" })],
    [
      "OVMF with Secure Boot",
      (dir: string): FirmwareConfig => {
        const varsPath = join(dir, "vars.fd");
        prepareUefiVars(OVMF_VARS_MS, varsPath);
        return { type: "uefi", secureBoot: true, varsPath };
      },
    ],
  ])(
    "boots under %s, answers through its agent and powers off by it",
    async (label, firmware) => {
      const dir = mkdtempSync(join(tmpdir(), "kv-vmm-debian-"));
      dirs.push(dir);
      const overlay = join(dir, "root.qcow2");
      await createOverlay(imageDisk, overlay);
      const hostname = "kv-agent-test";
      const vm = track(
        await Vm.start({
          accel: "tcg",
          bootTimeoutMs: 60_000,
          config: {
            name: "debian",
            machine: "q35",
            cores: 1,
            memoryMiB: 512,
            firmware: firmware(dir),
            disks: [
              { name: "root", path: overlay, format: "qcow2", readOnly: false, bootIndex: 0 },
              {
                name: "seed",
                path: await makeSeedIso(dir, { instanceId: hostname, hostname }),
                format: "raw",
                readOnly: true,
              },
            ],
            network: { ports: [], restrictOutbound: true },
            agent: { socket: join(dir, "agent.sock") },
          },
        }),
      );
      const agent = vm.agent as GuestAgent;
      const answeredMs = await untilAgentAnswers(agent, 420_000);
      console.log(`[vmm tests] Debian under ${label}: agent answered ${answeredMs} ms after start`);

      expect(await agent.osInfo()).toMatchObject({ id: "debian", version: "12" });
      // The image's cloud-init may apply the seed's host name after the agent starts.
      expect(await agent.hostName()).toMatch(/^(debian|kv-agent-test)$/);
      // DHCP may finish after the agent starts: wait for the NIC's address.
      let interfaces = await agent.interfaces();
      for (const t0 = Date.now(); Date.now() - t0 < 180_000; await sleep(2_000)) {
        interfaces = await agent.interfaces();
        if (interfaces.some((i) => i.ipAddresses.includes("10.0.2.15"))) break;
      }
      console.log(`[vmm tests] Debian under ${label}: ${JSON.stringify(interfaces)}`);
      expect(interfaces.map((i) => i.name)).not.toContain("lo");
      expect(interfaces.flatMap((i) => i.ipAddresses)).toContain("10.0.2.15");

      // The image of 2026-11-29 refuses: its agent's `shutdown -P +0` fails ("child process
      // has failed to shutdown") and it ignores the ACPI button too, so powering off waits
      // for an image fix (systemd-logind); the client's refusal path is covered by agent.test.ts.
      if (process.env.KUBEVISOR_DEBIAN_SHUTDOWN_TEST !== "1") return;
      let acpi = false;
      vm.qmp.onEvent("POWERDOWN", () => {
        acpi = true;
      });
      const status = await vm.shutdown({ timeoutMs: 180_000 });
      expect(status).toMatchObject({ reason: "guest-shutdown", stopRequest: "agent" });
      expect(acpi).toBe(false);
    },
    900_000,
  );
});
