/**
 * The Kubernetes client against a real HTTP server on 127.0.0.1 that answers the way no
 * apiserver should: each call ends in a KubeClient error within its deadline, having read
 * at most its size cap — never an uncaught exception, never a call that hangs.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundedRequestError } from "../../../src/kube/bounded-request.js";
import { KubeClient } from "../../../src/kube/client.js";

const MiB = 1024 * 1024;
/** The error a call ended in (a call that succeeded fails the test). */
const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: BoundedRequestError) => e,
  );
let server: Server;
let client: KubeClient;
/** Bytes the 100 MiB answer got out before the client hung up. */
let hugeSent = 0;

const answers: Record<string, (res: ServerResponse) => void> = {
  "/html": (res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<html>proxy error page</html>");
  },
  "/trickle": (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const timer = setInterval(() => res.write(" "), 50);
    res.on("close", () => clearInterval(timer));
  },
  "/silent": () => {},
  "/huge": (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (hugeSent < 100 * MiB && !res.destroyed) {
        hugeSent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  },
  "/declared": (res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": 100 * MiB });
    res.write("{");
  },
  "/ok": (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"kind":"Pod"}');
  },
};

beforeAll(async () => {
  server = createServer((req, res) => answers[req.url ?? ""]?.(res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        // client-node refuses plain HTTP otherwise; this server is the attacker anyway.
        skipTLSVerify: true,
      },
    ],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  client = new KubeClient(kc);
});

afterAll(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("KubeClient bounds every call", () => {
  it("a 200 that is not JSON is an error naming the call, not a SyntaxError", async () => {
    await expect(client.get("/html")).rejects.toThrow(/GET \/html: answer is not JSON: <html>/);
  });

  it("an answer that trickles is cut at the total deadline", async () => {
    const err = await failureOf(client.request("GET", "/trickle", { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(BoundedRequestError);
    expect(err.failure).toBe("deadline");
  });

  it("no answer at all is cut at the deadline too", async () => {
    const err = await failureOf(client.request("GET", "/silent", { timeoutMs: 300 }));
    expect(err.failure).toBe("noAnswer");
  });

  it("a 100 MiB answer is cut at the size cap, as it arrives", async () => {
    const err = await failureOf(client.request("GET", "/huge", { maxBytes: MiB }));
    expect(err.failure).toBe("tooLarge");
    await new Promise((r) => setTimeout(r, 100));
    expect(hugeSent).toBeLessThan(32 * MiB);
  });

  it("a declared Content-Length over the cap is refused before reading", async () => {
    const err = await failureOf(client.request("GET", "/declared", { maxBytes: MiB }));
    expect(err.failure).toBe("tooLarge");
  });

  it("a proper answer still comes through", async () => {
    expect(await client.get("/ok")).toEqual({ kind: "Pod" });
  });
});
