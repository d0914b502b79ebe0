/**
 * The launcher's agent poller against a real qemu-ga (Debian's, on the host, listening on a
 * unix socket as QEMU's chardev would): connected with OS info, lost while the agent is
 * frozen, back when it thaws. Every command that could change the host is blocked (-b).
 */
import { readFileSync } from "node:fs";
import { afterEach, expect, it } from "vitest";
import { AgentPoller, type GuestReport } from "../../../src/launcher/agent-poller.js";
import { logger } from "../../../src/util/log.js";
import { GuestAgent } from "../../../src/vmm/index.js";
import { type HostAgent, startHostAgent } from "../../lib/host-agent.js";

let host: HostAgent | undefined;
let poller: AgentPoller | undefined;
let agent: GuestAgent | undefined;

afterEach(async () => {
  poller?.stop();
  agent?.close();
  await host?.stop();
});

async function until(
  what: string,
  read: () => GuestReport | undefined,
  ok: (r: GuestReport) => boolean,
) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = read();
    if (r && ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`${what} not reached; last: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

it("reports the agent connected with OS info, lost while it is frozen, back after", async () => {
  host = startHostAgent();
  const { proc } = host;
  agent = new GuestAgent(host.socket, {
    connectTimeoutMs: 5_000,
    syncTimeoutMs: 1_000,
    commandTimeoutMs: 1_000,
  });
  poller = new AgentPoller(agent, logger("test"), {
    intervalMs: 200,
    retryMs: 200,
    maxRetryMs: 400,
    roundTimeoutMs: 3_000,
  });
  expect(poller.status).toBeUndefined();
  poller.start();
  const up = await until(
    "connected",
    () => poller?.status,
    (r) => r.agentConnected,
  );
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const hostId = /^ID=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, "");
  expect(up.osInfo?.id).toBe(hostId);
  expect(up.osInfo?.kernelRelease).toEqual(expect.any(String));
  expect(up.interfaces?.every((i) => i.name !== "lo")).toBe(true);

  proc.kill("SIGSTOP");
  const lost = await until(
    "lost",
    () => poller?.status,
    (r) => !r.agentConnected,
  );
  // What it last said stays, marked as not current.
  expect(lost.osInfo).toEqual(up.osInfo);

  proc.kill("SIGCONT");
  await until(
    "back",
    () => poller?.status,
    (r) => r.agentConnected,
  );
});
