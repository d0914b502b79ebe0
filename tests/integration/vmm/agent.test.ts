/**
 * The guest agent client against a real qemu-ga: Debian's own binary, run on the host with
 * `-m unix-listen`. Commands that could touch this host are disabled for the run (-b), and
 * every test that would call one first proves it is disabled.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  AgentError,
  AgentTimeoutError,
  AgentUnavailableError,
  GuestAgent,
} from "../../../src/vmm/agent.js";
import { type HostAgent, startHostAgent } from "../../lib/host-agent.js";

const started: HostAgent[] = [];
const clients: GuestAgent[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of started.splice(0)) await a.stop();
});

/** A host qemu-ga that afterEach stops. */
function hostAgent(dir?: string): HostAgent {
  const agent = startHostAgent(dir);
  started.push(agent);
  return agent;
}

function client(socket: string, opts?: ConstructorParameters<typeof GuestAgent>[1]): GuestAgent {
  const c = new GuestAgent(socket, opts);
  clients.push(c);
  return c;
}

function osRelease(): Record<string, string> {
  return Object.fromEntries(
    readFileSync("/etc/os-release", "utf8")
      .split("\n")
      .flatMap((l) => {
        const m = /^([A-Z_]+)=(.*)$/.exec(l);
        return m ? [[m[1], (m[2] ?? "").replace(/^"|"$/g, "")]] : [];
      }),
  );
}

describe("guest agent client against a real qemu-ga", () => {
  it("answers the status queries, typed and mapped", async () => {
    const { socket } = hostAgent();
    const agent = client(socket);
    expect(agent.isConnected).toBe(false);
    await agent.ping();
    expect(agent.isConnected).toBe(true);
    const release = osRelease();
    expect(await agent.osInfo()).toMatchObject({
      id: release.ID,
      version: release.VERSION_ID,
      kernelRelease: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    });
    expect(await agent.hostName()).toBe(hostname());
    const interfaces = await agent.interfaces();
    expect(interfaces.map((i) => i.name)).not.toContain("lo");
    expect(interfaces.flatMap((i) => i.ipAddresses)).not.toContain("127.0.0.1");
    const info = await agent.info();
    expect(info.version).toMatch(/^7\./);
    // Concurrent calls each get their own reply.
    const names = await Promise.all([agent.hostName(), agent.hostName(), agent.osInfo()]);
    expect(names.slice(0, 2)).toEqual([hostname(), hostname()]);
  });

  it("reports a refused command with the agent's own error, and a refused shutdown", async () => {
    const { socket } = hostAgent();
    const agent = client(socket);
    const info = await agent.info();
    // The guard: guest-shutdown must be disabled before this test may call it.
    const shutdown = info.supported_commands.find((c) => c.name === "guest-shutdown");
    expect(shutdown?.enabled).toBe(false);
    const err = await agent.shutdown().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).errorClass).toBe("CommandNotFound");
    expect((err as AgentError).desc).toMatch(/disabled/);
    // The connection survives an error reply.
    expect(agent.isConnected).toBe(true);
    await agent.ping();
  });

  it("fails cleanly where no agent listens, and connects once one does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kv-qga-"));
    const agent = client(join(dir, "qga.sock"), { connectTimeoutMs: 300 });
    const t0 = Date.now();
    await expect(agent.ping()).rejects.toBeInstanceOf(AgentUnavailableError);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(agent.isConnected).toBe(false);
    hostAgent(dir);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await agent.ping();
        break;
      } catch (err) {
        expect(err).toBeInstanceOf(AgentUnavailableError);
        if (Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
    expect(agent.isConnected).toBe(true);
  });

  it("times out on a stalled agent, then resynchronises once it answers again", async () => {
    const { socket, proc } = hostAgent();
    const agent = client(socket, { syncTimeoutMs: 1_000 });
    await agent.ping();
    proc.kill("SIGSTOP");
    try {
      await expect(
        agent.execute("guest-ping", undefined, { timeoutMs: 500 }),
      ).rejects.toBeInstanceOf(AgentTimeoutError);
      expect(agent.isConnected).toBe(false);
      // Still stalled: a new connection gets no sync answer.
      await expect(agent.ping()).rejects.toBeInstanceOf(AgentUnavailableError);
    } finally {
      proc.kill("SIGCONT");
    }
    // The stalled requests are answered into the old connections or dropped; the next call
    // must sync past anything stale and get its own answer.
    await sleep(200);
    expect(await agent.hostName()).toBe(hostname());
    expect(agent.isConnected).toBe(true);
  });
});
