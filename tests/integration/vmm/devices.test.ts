/**
 * Firmware, network confinement and the agent port, on real QEMU with the test guest
 * (busybox: it has no guest agent, which is what the agent test here needs).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AgentUnavailableError } from "../../../src/vmm/agent.js";
import { OVMF_VARS, prepareUefiVars } from "../../../src/vmm/firmware.js";
import {
  GUEST_POWEROFF_MARKER,
  guestImage,
  testGuestKernel,
} from "../../../src/vmm/guest-image.js";
import { bootTestGuest, freePort, testGuest } from "./helpers.js";

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "kv-vmm-dev-"));
  dirs.push(d);
  return d;
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("UEFI", () => {
  it("boots with OVMF from the VM's own vars copy, which QEMU writes to", async () => {
    const dir = tempDir();
    const vars = join(dir, "vars.fd");
    expect(prepareUefiVars(OVMF_VARS, vars)).toEqual({ created: true });
    const pristine = sha(vars);
    const vm = await bootTestGuest("tcg", {
      config: testGuest({
        // OVMF loads the bzImage through its EFI stub; the PVH ELF is for SeaBIOS's fw_cfg.
        kernel: { ...testGuestKernel("q35"), path: guestImage().kernel },
        firmware: { type: "uefi", secureBoot: false, varsPath: vars },
      }),
      bootTimeoutMs: 180_000,
    });
    console.log(`[vmm tests] tcg q35 OVMF boot to marker: ${vm.bootMs} ms`);
    const nodes = await vm.qmp.execute("query-named-block-nodes", { flat: true });
    expect(nodes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ "node-name": "fw-vars", file: vars, ro: false }),
        expect.objectContaining({ "node-name": "fw-code", ro: true }),
      ]),
    );
    await vm.quit();
    // OVMF records its boot options on first boot: the VM's copy changed, the template not.
    expect(sha(vars)).not.toBe(pristine);
    expect(sha(OVMF_VARS)).toBe(pristine);
  }, 240_000);
});

/** A host-side service on loopback that a confined guest must not reach. */
async function hostService(): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((s) => {
    count++;
    s.end("HOST-SECRET\n");
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { port, connections: () => count };
}

describe("outbound confinement (user-mode networking)", () => {
  it.each([
    [false, "reaches"],
    [true, "cannot reach"],
  ])(
    "restrictOutbound=%s: the guest %s a host service via the gateway; forwards work",
    async (restrictOutbound) => {
      const service = await hostService();
      const hostPort = await freePort("127.0.0.1");
      const vm = await bootTestGuest("tcg", {
        config: testGuest({
          network: {
            restrictOutbound,
            ports: [{ protocol: "tcp", hostAddress: "127.0.0.1", hostPort, guestPort: 80 }],
          },
        }),
      });
      // Inbound through the declared forward: the guest's httpd answers.
      const page = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then((r) => r.text());
      expect(page).toBe("kubevisor-guest\n");

      // Outbound: 10.0.2.2 is user-mode networking's gateway, which NATs to the host's
      // loopback; the marker is split in the command so the echo cannot match it.
      const done = vm.console.waitFor(/PROBE-END rc=\d+/, { timeoutMs: 60_000 });
      vm.console.write(`nc -w 5 10.0.2.2 ${service.port} </dev/null; echo PROBE-E""ND rc=$?\n`);
      await done;
      const output = vm.console.recent().toString("latin1");
      if (restrictOutbound) {
        expect(output).not.toContain("HOST-SECRET");
        expect(service.connections()).toBe(0);
      } else {
        // The unconfined run proves the probe works: the guest got through.
        expect(output).toContain("HOST-SECRET");
        expect(service.connections()).toBe(1);
      }
    },
  );
});

describe("guest agent port with no agent in the guest", () => {
  it("fails agent calls cleanly and falls back to ACPI for shutdown", async () => {
    const dir = tempDir();
    const vm = await bootTestGuest("tcg", {
      config: testGuest({ agent: { socket: join(dir, "agent.sock") } }),
      agentOptions: { syncTimeoutMs: 1_000 },
    });
    const agent = vm.agent;
    expect(agent).toBeDefined();
    await expect(agent?.ping()).rejects.toBeInstanceOf(AgentUnavailableError);
    expect(agent?.isConnected).toBe(false);
    const poweroff = vm.console.waitFor(GUEST_POWEROFF_MARKER, { timeoutMs: 30_000 });
    const status = await vm.shutdown({ via: "agent", timeoutMs: 30_000 });
    await poweroff;
    expect(status).toMatchObject({ reason: "guest-shutdown", stopRequest: "acpi" });
  });
});
