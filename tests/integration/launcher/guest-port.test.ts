/**
 * `openGuestPort` (src/vmm/guest-port.ts) against a guest that resets the connection right
 * after accepting it, while the launcher is still removing the temporary forward: the
 * launcher must hand back a dead socket, never die of an unhandled `error` (seen in CI: the
 * launcher exited with `read ECONNRESET` during `kubectl vm port-forward`). QEMU's forward is
 * played by a listener on the port the fake QMP's `hostfwd_add` names.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { openGuestPort } from "../../../src/vmm/guest-port.js";
import type { Vm } from "../../../src/vmm/vm.js";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A QMP whose `hostfwd_add` opens a listener that resets each connection 30 ms after accepting it. */
function resettingGuest(): Vm {
  const execute = async (_cmd: string, args: { "command-line": string }) => {
    const add = /^hostfwd_add \S+ tcp:127\.0\.0\.1:(\d+)-:\d+$/.exec(args["command-line"]);
    if (add) {
      const server = createServer((sock) => setTimeout(() => sock.resetAndDestroy(), 30));
      server.listen(Number(add[1]), "127.0.0.1");
      await once(server, "listening");
      servers.push(server);
    } else {
      // hostfwd_remove: slow, as a QMP round trip under TCG load is.
      await sleep(200);
    }
    return "";
  };
  return { qmp: { execute } } as unknown as Vm;
}

describe("a guest port the guest resets at once", () => {
  it("gives the caller a dead socket; nothing is thrown at the launcher", async () => {
    const sock = await openGuestPort(resettingGuest(), 80);
    // The reset came while the forward was being removed, before any handler of ours.
    await sleep(100);
    expect(sock.destroyed).toBe(true);
  });
});
