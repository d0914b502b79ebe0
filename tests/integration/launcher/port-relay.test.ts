/**
 * The launcher's guest-port relays (src/launcher/port-relay.ts) with real sockets: a backend
 * on 127.0.0.1 stands in for QEMU's loopback hostfwd. TCP carries both directions and a
 * half-close; UDP answers each client at its own address; a flood of UDP source ports is
 * capped. The end-to-end proof (SSH to a Debian guest's pod IP on real nodes) is in
 * tests/e2e/guests.test.ts, run by the real-node suite.
 */
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { connect, createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type PortRelays,
  planRelays,
  startPortRelays,
  UDP_MAX_CLIENTS,
} from "../../../src/launcher/port-relay.js";
import { logger } from "../../../src/util/log.js";

const log = logger("port-relay-test");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A free port for the relay's own (declared) side, as planRelays finds internal ones. */
async function freePort(protocol: "tcp" | "udp"): Promise<number> {
  const [r] = await planRelays([{ protocol, port: 0 }]);
  return r?.internalPort ?? 0;
}

async function relay(protocol: "tcp" | "udp"): Promise<{ port: number; internalPort: number }> {
  const port = await freePort(protocol);
  const [planned] = await planRelays([{ protocol, port }]);
  if (!planned) throw new Error("no plan");
  const relays: PortRelays = await startPortRelays([planned], ["127.0.0.1"], log);
  cleanups.push(() => relays.close());
  return { port, internalPort: planned.internalPort };
}

describe("guest port relays", () => {
  it("relays TCP both ways and passes a half-close on", async () => {
    const { port, internalPort } = await relay("tcp");
    // The stand-in for the guest: reads until the client's end, then answers and closes.
    const backend: Server = createServer({ allowHalfOpen: true }, (s) => {
      let got = "";
      s.on("data", (d) => {
        got += d.toString();
      });
      s.on("end", () => s.end(`got:${got}`));
    });
    backend.listen(internalPort, "127.0.0.1");
    await once(backend, "listening");
    cleanups.push(() => void backend.close());

    const client = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    await once(client, "connect");
    let answer = "";
    client.on("data", (d) => {
      answer += d.toString();
    });
    client.end("hello");
    await once(client, "end");
    expect(answer).toBe("got:hello");
    client.destroy();
  });

  it("closes the client when nothing listens behind it yet (QEMU not started)", async () => {
    const { port } = await relay("tcp");
    const client = connect({ port, host: "127.0.0.1" });
    client.on("error", () => {});
    await once(client, "close");
  });

  it("answers each UDP client at its own address, and caps the clients mapped", async () => {
    const { port, internalPort } = await relay("udp");
    const backend = createSocket("udp4");
    backend.bind(internalPort, "127.0.0.1");
    await once(backend, "listening");
    const seenFrom = new Set<number>();
    backend.on("message", (msg, from) => {
      seenFrom.add(from.port);
      backend.send(`echo:${msg}`, from.port, from.address);
    });
    cleanups.push(() => void backend.close());

    const ask = async (text: string) => {
      const c = createSocket("udp4");
      c.bind(0, "127.0.0.1");
      await once(c, "listening");
      c.send(text, port, "127.0.0.1");
      const reply = await Promise.race([
        once(c, "message").then(([m]) => (m as Buffer).toString()),
        new Promise<string>((r) => setTimeout(() => r("(no answer)"), 2000)),
      ]);
      return { c, reply };
    };
    const a = await ask("a");
    const b = await ask("b");
    expect([a.reply, b.reply]).toEqual(["echo:a", "echo:b"]);
    // Two clients, two mappings: each reply went back to the one who asked.
    expect(seenFrom.size).toBe(2);

    // A flood of source ports: past the cap, new clients get nothing (old ones keep working).
    const flood = [];
    for (let i = 0; i < UDP_MAX_CLIENTS; i++) {
      const c = createSocket("udp4");
      c.bind(0, "127.0.0.1");
      await once(c, "listening");
      c.send("x", port, "127.0.0.1");
      flood.push(c);
    }
    const late = await ask("late");
    expect(late.reply).toBe("(no answer)");
    a.c.send("again", port, "127.0.0.1");
    const [again] = await once(a.c, "message");
    expect((again as Buffer).toString()).toBe("echo:again");
    for (const c of [a.c, b.c, late.c, ...flood]) c.close();
  });
});
