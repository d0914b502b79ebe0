/**
 * The aggregated API server in this process, registered with the run's real kube-apiserver
 * through an APIService, a selectorless Service and a hand-made EndpointSlice (no kubelet),
 * relaying the console of a real launcher running the test guest under QEMU.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { $ } from "dax-sh";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  CONSOLE_CLOSE,
  portForwardPath,
  SUBRESOURCES_APISERVICE,
  subresourcePath,
} from "../../../src/api/subresources.js";
import { type RunningApiServer, startApiServer } from "../../../src/apiserver/server.js";
import { isAlreadyExists, KubeClient, paths } from "../../../src/kube/client.js";
import { binaryPath } from "../../../src/local/build/targets.js";
import { issueCertificate } from "../../../src/util/pki.js";
import { GUEST_BOOT_MARKER, pngSize } from "../../../src/vmm/index.js";
import { LauncherProcess, testGuestSpec, testPki } from "../launcher/harness.js";
import { Cli, kubeconfigAs, run } from "./cli.js";
import { adminTls, call, eventually, openConsole, type Tls } from "./harness.js";

const SERVER_NS = "kv-apiserver-it";
const SERVICE = "kubevisor-apiserver";
const NS = "tests"; // the launcher harness's namespace
const OTHER_NS = "kv-apiserver-other";
const VM = "demo";
const octet = () => 2 + Math.floor(Math.random() * 250);
const IP = `127.88.${octet()}.${octet()}`;
const PORT = 20_000 + Math.floor(Math.random() * 20_000);

let client: KubeClient;
let server: RunningApiServer;
let launcher: LauncherProcess;
let apiserver: string;
let tls: Tls;

const url = (sub: Parameters<typeof subresourcePath>[2], ns = NS) =>
  `${apiserver}${subresourcePath(ns, VM, sub)}`;
const put = (sub: Parameters<typeof subresourcePath>[2], user: string) =>
  call(url(sub), tls, "PUT", { user });
const vmPath = paths.custom("kubevisor.io", "v1alpha1", "virtualmachines", NS, VM);

async function create(path: string, body: unknown) {
  await client.create(path, body).catch((err) => {
    if (!isAlreadyExists(err)) throw err;
  });
}

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  client = new KubeClient(kc);
  ({ server: apiserver, tls } = await adminTls());
  const pki = await testPki();
  // The guest boots while the rest is set up.
  launcher = await LauncherProcess.start(pki, VM, testGuestSpec());

  for (const name of [SERVER_NS, NS])
    await create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const roles =
    await $`${binaryPath("helm", "helm")} template kv ${join(import.meta.dirname, "../../../charts/kubevisor")} --show-only templates/aggregated-roles.yaml`.text();
  await $`kubectl apply -f -`.stdinText(roles).quiet();
  await create("/apis/apiregistration.k8s.io/v1/apiservices", {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: SUBRESOURCES_APISERVICE },
    spec: {
      group: "subresources.kubevisor.io",
      version: "v1alpha1",
      service: { namespace: SERVER_NS, name: SERVICE, port: 443 },
      groupPriorityMinimum: 1000,
      versionPriority: 15,
    },
  });
  await create(`/api/v1/namespaces/${SERVER_NS}/services`, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: SERVICE },
    spec: { ports: [{ name: "https", port: 443, targetPort: PORT }] },
  });
  await create(`/apis/discovery.k8s.io/v1/namespaces/${SERVER_NS}/endpointslices`, {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${SERVICE}-tests`,
      labels: {
        "kubernetes.io/service-name": SERVICE,
        "endpointslice.kubernetes.io/managed-by": "kubevisor-tests",
      },
    },
    // IPv4 endpoints may not be loopback addresses, and 127.0.0.0/8 is all a test may bind.
    // The aggregator (--enable-aggregator-routing) dials Addresses[0] of any slice whatever
    // its type, and a dotted quad is a valid FQDN, so an FQDN slice reaches the server.
    addressType: "FQDN",
    endpoints: [{ addresses: [IP], conditions: { ready: true } }],
    ports: [{ name: "https", port: PORT, protocol: "TCP" }],
  });
  server = await startApiServer({
    kubeConfig: kc,
    namespace: SERVER_NS,
    host: IP,
    port: PORT,
    service: SERVICE,
    launcherTls: { caPem: pki.ca.certPem, certPem: pki.client.certPem, keyPem: pki.client.keyPem },
  });

  await create(paths.custom("kubevisor.io", "v1alpha1", "virtualmachines", NS), {
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: VM, namespace: NS },
    spec: { memory: { size: "128Mi" }, boot: { kernel: { image: "kubevisor/test-guest" } } },
  });
  // No operator runs here: the status says where the launcher is, as the operator would.
  await client.request("PATCH", `${vmPath}/status`, {
    body: { status: { phase: "Running", ipAddress: launcher.ip } },
    contentType: "application/merge-patch+json",
  });
  const bind = (user: string, kind: "ClusterRole" | "Role", role: string) =>
    create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: `${user}-${role}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name: role },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    });
  await create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "console-watch" },
    rules: [
      {
        apiGroups: ["subresources.kubevisor.io"],
        resources: ["virtualmachines/console"],
        verbs: ["get"],
      },
    ],
  });
  await bind("alice", "ClusterRole", "edit");
  await bind("bob", "ClusterRole", "view");
  await bind("dave", "Role", "console-watch");
  // erin may edit VMs, but only in a namespace of her own.
  await create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: OTHER_NS },
  });
  await create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${OTHER_NS}/rolebindings`, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "erin-edit" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "erin" }],
  });
  // Ready once the APIService is available and the role aggregation has reached `edit`.
  await eventually("alice allowed through the aggregation layer", async () =>
    (await put("start", "alice")).status === 200 ? true : undefined,
  );
});

afterAll(async () => {
  // A dangling APIService would make discovery fail for every later test in the run.
  await client
    ?.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${SUBRESOURCES_APISERVICE}`)
    .catch(() => {});
  await client?.delete(`/api/v1/namespaces/${SERVER_NS}`).catch(() => {});
  await client?.delete(`/api/v1/namespaces/${OTHER_NS}`).catch(() => {});
  await client?.delete(vmPath).catch(() => {});
  await server?.close();
  await launcher?.cleanup();
  client?.close();
});

describe("aggregated API server", () => {
  it("serves discovery through the kube-apiserver and owns the APIService caBundle", async () => {
    const list = await call(`${apiserver}/apis/subresources.kubevisor.io/v1alpha1`, tls, "GET");
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.json)).toContain("virtualmachines/console");
    const apiService = await client.get<{ spec: { caBundle: string } }>(
      `/apis/apiregistration.k8s.io/v1/apiservices/${SUBRESOURCES_APISERVICE}`,
    );
    expect(Buffer.from(apiService.spec.caBundle, "base64").toString()).toBe(server.caPem);
  });

  it("lets an edit user stop, start, restart and migrate the VM", async () => {
    const spec = async () =>
      await client.get<{
        spec: { runStrategy: string };
        metadata: { annotations?: Record<string, string> };
      }>(vmPath);
    expect((await put("stop", "alice")).status).toBe(200);
    expect((await spec()).spec.runStrategy).toBe("Halted");
    expect((await put("start", "alice")).status).toBe(200);
    expect((await spec()).spec.runStrategy).toBe("Always");
    expect((await put("restart", "alice")).status).toBe(200);
    expect((await spec()).metadata.annotations?.["kubevisor.io/restart-requested"]).toBeTruthy();
    const migrate = await put("migrate", "alice");
    expect(migrate.status).toBe(200);
    const name = migrate.json.details?.name ?? "";
    const migration = await client.get<{
      spec: { vmName: string };
      metadata: { annotations: Record<string, string> };
    }>(paths.custom("kubevisor.io", "v1alpha1", "virtualmachinemigrations", NS, name));
    expect(migration.spec.vmName).toBe(VM);
    expect(migration.metadata.annotations["kubevisor.io/requested-by"]).toBe("alice");
  });

  it("refuses view-bound and unbound users with a 403 naming the permission", async () => {
    const bob = await put("stop", "bob");
    expect(bob.status).toBe(403);
    expect(bob.json.message).toContain(
      'User "bob" cannot update resource "virtualmachines/stop" in API group "subresources.kubevisor.io" in the namespace "tests"',
    );
    expect((await put("restart", "carol")).status).toBe(403);
    await expect(openConsole(url("console"), tls, "bob")).rejects.toThrow(
      /403.*cannot get resource \\"virtualmachines\/console\\"/,
    );
  });

  it("refuses requests that bypass the front proxy, with or without a certificate", async () => {
    const direct = `https://${IP}:${PORT}${subresourcePath(NS, VM, "stop")}`;
    const forged = { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" };
    expect((await call(direct, {}, "PUT", { headers: forged })).status).toBe(401);
    // A certificate with the right CN from the wrong CA (the cluster's, not the front proxy's).
    const pki = join(inject("clusterDir"), "pki");
    const impostor = await issueCertificate(
      {
        certPem: readFileSync(join(pki, "ca.crt"), "utf8"),
        keyPem: readFileSync(join(pki, "ca.key"), "utf8"),
      },
      { commonName: "front-proxy-client", usage: "client" },
    );
    const withCert = await call(direct, { cert: impostor.certPem, key: impostor.keyPem }, "PUT", {
      headers: forged,
    });
    expect(withCert.status).toBe(401);
    expect((await client.get<{ spec: { runStrategy: string } }>(vmPath)).spec.runStrategy).toBe(
      "Always",
    );
  });

  it("relays the console: one interactive session at a time, read-only watchers", async () => {
    await launcher.waitReady(120_000);
    const alice = await openConsole(url("console"), tls, "alice");
    await alice.waitFor(new RegExp(GUEST_BOOT_MARKER), 60_000); // replayed on attach
    alice.type("echo hi-$((40+2))");
    await alice.waitFor(/hi-42/);

    await expect(openConsole(url("console"), tls, "dave")).rejects.toThrow(
      /403.*cannot update resource \\"virtualmachines\/console\\"/,
    );
    const watcher = await openConsole(`${url("console")}?mode=watch`, tls, "dave");
    watcher.type("echo watcher-$((1+1))");
    alice.type("echo after-$((2+2))");
    await watcher.waitFor(/after-4/);
    expect(watcher.text).not.toContain("watcher-2");

    const second = await openConsole(url("console"), tls, "alice");
    const closed = await alice.closed;
    expect(closed).toEqual({
      code: CONSOLE_CLOSE.takenOver,
      reason: "another interactive console session (user alice) took over",
    });
    second.type("echo second-$((3+3))");
    await second.waitFor(/second-6/);
    second.ws.close();
    watcher.ws.close();
  });
});

describe("display, screenshot and pause through the aggregation layer", () => {
  const get = (sub: Parameters<typeof subresourcePath>[2], user: string) =>
    call(url(sub), tls, "GET", { user });

  it("relays VNC to an edit user: the RFB greeting of the guest's QEMU", async () => {
    await launcher.waitReady(120_000);
    const vnc = await openConsole(url("vnc"), tls, "alice");
    await vnc.waitFor(/^RFB 003\.008\n/);
    // A second viewer does not take the first one's session over (only the console does).
    const second = await openConsole(url("vnc"), tls, "alice");
    await second.waitFor(/^RFB 003\.008\n/);
    const first = await Promise.race([
      vnc.closed,
      new Promise<string>((r) => setTimeout(() => r("open"), 500)),
    ]);
    expect(first).toBe("open");
    vnc.ws.close();
    second.ws.close();
  });

  it("returns a PNG screenshot to an edit user", async () => {
    const shot = await get("screenshot", "alice");
    expect(shot.status).toBe(200);
    expect(shot.type).toBe("image/png");
    expect(pngSize(shot.bytes).width).toBeGreaterThan(0);
  });

  it("pauses and unpauses the guest for an edit user", async () => {
    const pause = await put("pause", "alice");
    expect(pause.status).toBe(200);
    expect(pause.json.message).toBe(`VM ${VM} paused`);
    expect(JSON.parse((await launcher.get("/status")).body).phase).toBe("Paused");
    expect((await put("unpause", "alice")).status).toBe(200);
    expect(JSON.parse((await launcher.get("/status")).body).phase).toBe("Running");
  });

  it("refuses vnc, screenshot and pause to view, unbound and other-namespace users", async () => {
    for (const user of ["bob", "carol", "erin"]) {
      const vnc = await openConsole(url("vnc"), tls, user).then(
        (session) => {
          session.ws.close();
          return "opened";
        },
        (err: Error) => err.message,
      );
      expect(vnc).toContain("HTTP 403");
      expect(vnc).toContain(`User \\"${user}\\" cannot get resource \\"virtualmachines/vnc\\"`);
      const shot = await get("screenshot", user);
      expect(shot.status).toBe(403);
      expect(shot.json.message).toContain(`cannot get resource "virtualmachines/screenshot"`);
      for (const action of ["pause", "unpause"] as const) {
        const refused = await put(action, user);
        expect(refused.status).toBe(403);
        expect(refused.json.message).toContain(
          `cannot update resource "virtualmachines/${action}"`,
        );
      }
    }
    // The guest was never paused by any of them.
    expect(JSON.parse((await launcher.get("/status")).body).phase).toBe("Running");
  });

  it("tunnels a TCP connection to a guest port for an edit user only", async () => {
    await launcher.waitReady(120_000);
    const pf = `${apiserver}${portForwardPath(NS, VM, 80)}`;
    const alice = await openConsole(pf, tls, "alice");
    alice.ws.send(Buffer.from("GET / HTTP/1.0\r\n\r\n"), { binary: true });
    await alice.waitFor(/^HTTP\/1\.[01] (200|404)/);
    await alice.closed;
    for (const user of ["bob", "carol", "erin"]) {
      await expect(openConsole(pf, tls, user)).rejects.toThrow(/HTTP 403/);
    }
  });

  it("refuses a port-forward to a port outside 1-65535, naming the port", async () => {
    for (const bad of ["0", "65536", "ssh"]) {
      const pf = `${apiserver}${subresourcePath(NS, VM, "portforward")}/${bad}`;
      const err = await openConsole(pf, tls, "alice").then(
        () => "opened",
        (e: Error) => e.message,
      );
      expect(err).toContain("HTTP 400");
      expect(err).toContain(`port: \\"${bad}\\" is not a TCP port (1-65535)`);
    }
  });

  it("refuses VNC to a user who may only watch the console", async () => {
    await expect(openConsole(url("vnc"), tls, "dave")).rejects.toThrow(/403/);
  });
});

describe("kubectl-vm through the aggregation layer", () => {
  const as = (user: string) => ["-n", NS, "--kubeconfig", kubeconfigAs(user)];

  it("stops and starts the VM for an edit user, refuses a view user with exit 4", async () => {
    const stop = await run(["stop", VM, ...as("alice")]);
    expect(stop).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/runStrategy set to Halted/),
    });
    expect((await run(["start", VM, ...as("alice")])).code).toBe(0);
    const bob = await run(["stop", VM, ...as("bob")]);
    expect(bob.code).toBe(4);
    expect(bob.stderr).toContain('User "bob" cannot update resource "virtualmachines/stop"');
    expect((await run(["status", "nope", ...as("alice")])).code).toBe(3);
  });

  it("opens the console in pipe mode and leaves when stdin ends", async () => {
    await launcher.waitReady(120_000);
    const cli = new Cli(["console", VM, "--linger", "1s", ...as("alice")]);
    cli.type("echo hi-$((40+2))");
    await cli.waitFor(/hi-42/);
    cli.child.stdin?.end();
    expect(await cli.exited).toBe(0);
    const bob = await run(["console", VM, ...as("bob")]);
    expect(bob.code).toBe(4);
    expect(bob.stderr).toContain('cannot get resource "virtualmachines/console"');
  });

  it("vnc opens a local port carrying the guest's RFB stream; refuses a view user", async () => {
    await launcher.waitReady(120_000);
    const cli = new Cli(["vnc", VM, ...as("alice")]);
    await cli.waitFor(/VNC for VM demo on 127\.0\.0\.1:(\d+)/);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(cli.stdout)?.[1]);
    for (let i = 0; i < 2; i++) {
      // Each viewer connection is a session of its own.
      const sock = connect(port, "127.0.0.1");
      const greeting = await new Promise<string>((resolve, reject) => {
        sock.once("data", (d: Buffer) => resolve(d.toString("latin1")));
        sock.once("error", reject);
      });
      expect(greeting).toBe("RFB 003.008\n");
      sock.destroy();
    }
    cli.child.kill("SIGINT");
    expect(await cli.exited).toBe(0);
    const bob = await run(["vnc", VM, ...as("bob")]);
    expect(bob.code).toBe(4);
    expect(bob.stderr).toContain('cannot get resource "virtualmachines/vnc"');
  });

  it("port-forward tunnels local connections to the guest; ssh runs its ProxyCommand", async () => {
    await launcher.waitReady(120_000);
    const cli = new Cli(["port-forward", VM, "0:80", ...as("alice")]);
    await cli.waitFor(/Forwarding 127\.0\.0\.1:(\d+) -> VM demo port 80/);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(cli.stdout)?.[1]);
    const get = async () => {
      const sock = connect(port, "127.0.0.1");
      sock.on("error", () => {});
      sock.write("GET / HTTP/1.0\r\n\r\n");
      let answer = "";
      sock.on("data", (d: Buffer) => {
        answer += d.toString("latin1");
      });
      await new Promise((resolve) => sock.once("close", resolve));
      return answer;
    };
    // The guest's httpd starts a little after the guest does (later still under load).
    const deadline = Date.now() + 90_000;
    while (!/^HTTP\/1\.[01] (200|404)/.test(await get()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 1000));
    // Then every connection is its own tunnel to it (a TCG guest under load may drop one:
    // slirp accepts before the guest does, so a slow guest shows as an empty answer).
    for (let i = 0; i < 2; i++) {
      let answer = "";
      for (let t = 0; t < 5 && !answer; t++) answer = await get();
      expect(answer).toMatch(/^HTTP\/1\.[01] (200|404)/);
    }
    cli.child.kill("SIGINT");
    expect(await cli.exited).toBe(0);
    // ssh with the guest's httpd as its "SSH port": the ProxyCommand ssh would run carries
    // the bytes (fake-ssh plays ssh; the test guest has no SSH server).
    process.env.KUBEVISOR_SSH = join(import.meta.dirname, "../../fixtures/bin/fake-ssh.mjs");
    try {
      const ssh = await run(["ssh", `root@${VM}`, "--ssh-port", "80", ...as("alice")]);
      expect(ssh.stdout).toMatch(/^HTTP\/1\.[01] (200|404)/);
      const bob = await run(["port-forward", "--stdio", VM, "80", ...as("bob")]);
      expect(bob.code).toBe(4);
      expect(bob.stderr).toContain('cannot get resource "virtualmachines/portforward"');
    } finally {
      delete process.env.KUBEVISOR_SSH;
    }
  }, 240_000);

  it("pauses and unpauses; refuses a view user with exit 4", async () => {
    await launcher.waitReady(120_000);
    const pause = await run(["pause", VM, ...as("alice")]);
    expect(pause).toMatchObject({ code: 0, stdout: `VM ${VM} paused\n` });
    expect(JSON.parse((await launcher.get("/status")).body).phase).toBe("Paused");
    expect(await run(["unpause", VM, ...as("alice")])).toMatchObject({ code: 0 });
    expect(JSON.parse((await launcher.get("/status")).body).phase).toBe("Running");
    const bob = await run(["pause", VM, ...as("bob")]);
    expect(bob.code).toBe(4);
    expect(bob.stderr).toContain('cannot update resource "virtualmachines/pause"');
  });

  it("migrate --wait shows progress and exits by the migration's outcome", async () => {
    const migrations = paths.custom("kubevisor.io", "v1alpha1", "virtualmachinemigrations", NS);
    const before = new Set(
      (await client.list<{ metadata: { name: string } }>(migrations)).items.map(
        (m) => m.metadata.name,
      ),
    );
    const drive = async (final: Record<string, unknown>) => {
      const cli = new Cli(["migrate", VM, "--wait", ...as("alice")]);
      // No migration controller runs here: play its part on the status.
      const name = await eventually("the migration", async () =>
        (await client.list<{ metadata: { name: string } }>(migrations)).items
          .map((m) => m.metadata.name)
          .find((n) => !before.has(n)),
      );
      before.add(name);
      const status = (body: unknown) =>
        client.request("PATCH", `${migrations}/${name}/status`, {
          body: { status: body },
          contentType: "application/merge-patch+json",
        });
      await status({
        phase: "Running",
        progress: { dataTotalBytes: 4096, dataProcessedBytes: 1024, dataRemainingBytes: 3072 },
      });
      await eventually(
        "progress shown",
        async () => (/transferred/.test(cli.stderr) ? true : undefined),
        10_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; stderr: ${cli.stderr}; stdout: ${cli.stdout}`);
      });
      await status(final);
      return { code: await cli.exited, stderr: cli.stderr };
    };
    const ok = await drive({ phase: "Succeeded", downtimeMs: 12, totalTimeMs: 1500 });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/1\.0 KiB transferred, 3\.0 KiB remaining/);
    expect(ok.stderr).toMatch(/Succeeded: downtime 12 ms, total 1\.5 s/);
    const failed = await drive({
      phase: "Failed",
      reason: "TargetFailed",
      message: "the target pod died",
    });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("Failed: TargetFailed: the target pod died");
  });
});
