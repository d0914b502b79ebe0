/**
 * `kubectl vm ui` as a user runs it (the built plugin, a real apiserver): the one-time login,
 * forwarding with the kubeconfig's own credentials, and every way another local user or a
 * hostile web page could try to use it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { SESSION_COOKIE, UI_HEADER } from "../../../src/ui/protocol.js";

const PLUGIN = join(import.meta.dirname, "..", "..", "..", "dist", "cli", "kubectl-vm.js");
const VMS = "/k8s/apis/kubevisor.io/v1alpha1/namespaces/default/virtualmachines";

interface Ui {
  proc: ChildProcess;
  base: string;
  login: string;
}

async function startUi(extra: string[] = []): Promise<Ui> {
  const proc = spawn(process.execPath, [PLUGIN, "ui", "--no-browser", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
    env: process.env,
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, "line")) as [string];
  const url = new URL(line);
  return { proc, base: url.origin, login: `${url.pathname}${url.search}` };
}

async function stop(ui: Ui | undefined) {
  if (!ui || ui.proc.exitCode !== null) return;
  ui.proc.kill("SIGINT");
  await once(ui.proc, "exit");
}

async function signIn(ui: Ui): Promise<string> {
  const res = await fetch(`${ui.base}${ui.login}`, { redirect: "manual" });
  expect(res.status).toBe(302);
  const cookie = res.headers.get("set-cookie") ?? "";
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  return cookie.split(";")[0] as string;
}

const vm = (name: string, memory = "64Mi") => ({
  apiVersion: "kubevisor.io/v1alpha1",
  kind: "VirtualMachine",
  metadata: { name },
  spec: {
    runStrategy: "Halted",
    memory: { size: memory },
    boot: { kernel: { image: "kubevisor/test-guest:latest" } },
  },
});

let ui: Ui;
let cookie: string;
beforeAll(async () => {
  ui = await startUi();
  cookie = await signIn(ui);
});
afterAll(async () => {
  await stop(ui);
});

describe("kubectl vm ui (local mode)", () => {
  it("prints a URL on 127.0.0.1 whose token works exactly once", async () => {
    expect(ui.base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const again = await fetch(`${ui.base}${ui.login}`, { redirect: "manual" });
    expect(again.status).toBe(401);
  });

  it("serves the app with a strict content security policy", async () => {
    const res = await fetch(`${ui.base}/`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<div id="app">/);
    expect(res.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  it("forwards API calls with the kubeconfig's credentials, and watches stream", async () => {
    const list = await patient(() => fetch(`${ui.base}${VMS}`, { headers: { cookie } }));
    expect(list.status).toBe(200);
    const { metadata } = (await list.json()) as { metadata: { resourceVersion: string } };
    const watch = await patient(() =>
      fetch(`${ui.base}${VMS}?watch=1&resourceVersion=${metadata.resourceVersion}`, {
        headers: { cookie },
      }),
    );
    expect(watch.status).toBe(200);
    const reader = (watch.body as ReadableStream<Uint8Array>).getReader();
    const created = await patient(() =>
      fetch(`${ui.base}${VMS}`, {
        method: "POST",
        headers: { cookie, origin: ui.base, [UI_HEADER]: "1", "content-type": "application/json" },
        body: JSON.stringify(vm("ui-watched")),
      }),
    );
    expect(created.status).toBe(201);
    let seen = "";
    while (!/"type":"ADDED".*"name":"ui-watched"/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toMatch(/"type":"ADDED".*"name":"ui-watched"/);
    await reader.cancel();
  });

  it("hands the API server's validation message back with the field", async () => {
    const res = await fetch(`${ui.base}${VMS}`, {
      method: "POST",
      headers: { cookie, origin: ui.base, [UI_HEADER]: "1", "content-type": "application/json" },
      body: JSON.stringify(vm("ui-bad", "12Q")),
    });
    expect(res.status).toBe(422);
    const status = (await res.json()) as { details: { causes: { field: string }[] } };
    expect(status.details.causes.map((c) => c.field)).toContain("spec.memory.size");
  });

  it("refuses another local user (no cookie) and a DNS-rebinding page (foreign Host)", async () => {
    expect((await fetch(`${ui.base}${VMS}`)).status).toBe(401);
    expect(
      (await fetch(`${ui.base}${VMS}`, { headers: { cookie: `${SESSION_COOKIE}=guessed` } }))
        .status,
    ).toBe(401);
    const port = new URL(ui.base).port;
    const rebinding = await rawGet(port, VMS, { host: `evil.example:${port}`, cookie });
    expect(rebinding).toBe(403);
  });

  it("refuses a cross-site write: nothing is created", async () => {
    const res = await fetch(`${ui.base}${VMS}`, {
      method: "POST",
      headers: {
        cookie,
        origin: "https://evil.example",
        [UI_HEADER]: "1",
        "content-type": "application/json",
      },
      body: JSON.stringify(vm("ui-csrf")),
    });
    expect(res.status).toBe(403);
    const formPost = await fetch(`${ui.base}${VMS}`, {
      method: "POST",
      headers: { cookie, origin: ui.base, "content-type": "text/plain" },
      body: JSON.stringify(vm("ui-csrf")),
    });
    expect(formPost.status).toBe(403);
    expect((await fetch(`${ui.base}${VMS}/ui-csrf`, { headers: { cookie } })).status).toBe(404);
  });

  it("refuses a cross-site WebSocket", async () => {
    const ws = new WebSocket(`${ui.base.replace("http", "ws")}/k8s/api/v1/namespaces`, {
      headers: { cookie, origin: "https://evil.example" },
    });
    ws.on("error", () => {});
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(403);
  });

  it("never forwards the page's own Impersonate or Authorization headers", async () => {
    // The admin kubeconfig may impersonate: were the header passed on, this would be refused.
    const res = await fetch(`${ui.base}${VMS}`, {
      headers: { cookie, "impersonate-user": "system:anonymous", authorization: "Bearer nonsense" },
    });
    expect(res.status).toBe(200);
  });

  it("does what the kubeconfig's user may, no more (RBAC decides)", async () => {
    const asNobody = await startUi(["--as", "nobody@example.com"]);
    try {
      const c = await signIn(asNobody);
      expect((await fetch(`${asNobody.base}${VMS}`, { headers: { cookie: c } })).status).toBe(403);
    } finally {
      await stop(asNobody);
    }
  });
});

/** A fresh apiserver answers 429 while its flow control settles: retry those, as clients do. */
async function patient(call: () => Promise<Response>): Promise<Response> {
  for (let i = 0; ; i++) {
    const res = await call();
    if (res.status !== 429 || i === 20) return res;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A GET with a Host header of our choosing (fetch would not let us set it). */
async function rawGet(
  port: string,
  path: string,
  headers: Record<string, string>,
): Promise<number> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}
