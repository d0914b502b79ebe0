/**
 * The serial console through Kubernetes on the local cluster with the chart installed:
 * `kubectl vm console` as users bound to edit, view and nothing; a request that bypasses the
 * front proxy; and a session that outlives a live migration.
 */
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subresourcePath } from "../../src/api/subresources.js";
import { GUEST_BOOT_MARKER } from "../../src/vmm/index.js";
import { bind, Cli, kubeconfigAs, run, waitForSubresourcesApi } from "./cli-helpers.js";
import { counters, createNamespace, getJson, kubectl, vmManifest, waitForVmPhase } from "./lib.js";

const NS = "e2e-console";
const as = (user: string) => ["-n", NS, "--kubeconfig", kubeconfigAs(user)];

beforeAll(async () => {
  await createNamespace(NS);
  await kubectl(["apply", "-f", "-"], vmManifest(NS, "demo", { evictionStrategy: "LiveMigrate" }));
  await bind(NS, "alice", "edit");
  await bind(NS, "bob", "view");
  await waitForSubresourcesApi();
  await waitForVmPhase(NS, "demo", "Running", 240_000);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("kubectl vm console", () => {
  it("lets an edit user type a command and see its output", async () => {
    const cli = new Cli(["console", "demo", "--linger", "1s", ...as("alice")]);
    // Running means QEMU started, not that the guest reads its serial port yet: bytes typed
    // during the kernel's boot are dropped, as on real hardware. The counter starts just
    // before the shell (and the marker is replayed on attach if the boot is already over).
    await cli.waitFor(/kubevisor-counter \d+/, 120_000);
    cli.type("echo hi-$((40+2))");
    await cli.waitFor(/hi-42/, 60_000);
    cli.child.stdin?.end();
    expect(await cli.exited).toBe(0);
  });

  it("refuses a view user and an unbound user with a 403 naming the permission", async () => {
    const bob = await run(["console", "demo", ...as("bob")]);
    expect(bob.code).toBe(4);
    expect(bob.stderr).toContain(
      'User "bob" cannot get resource "virtualmachines/console" in API group "subresources.kubevisor.io" in the namespace "e2e-console"',
    );
    expect((await run(["console", "demo", ...as("carol")])).code).toBe(4);
  });

  it("refuses a request that bypasses the front proxy with forged user headers", async () => {
    const pods = await getJson<{ items: { status: { podIP: string } }[] }>(
      "pods",
      "-n",
      "kubevisor-system",
      "-l",
      "app.kubernetes.io/component=operator",
    );
    const ip = pods.items[0]?.status.podIP ?? "";
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: ip,
          port: 9443,
          path: subresourcePath(NS, "demo", "stop"),
          method: "PUT",
          rejectUnauthorized: false,
          headers: { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(401);
    expect(
      (await getJson<{ spec: { runStrategy?: string } }>("vm", "demo", "-n", NS)).spec
        .runStrategy ?? "Always",
    ).toBe("Always");
  });

  // Depends on live migration (src/operator/migration) being in the installed operator.
  it("keeps showing the guest's counter across a live migration", async () => {
    const cli = new Cli(["console", "demo", "--watch", ...as("alice")]);
    await cli.waitFor(/kubevisor-counter \d+/, 60_000);
    const before = (await getJson<{ status: { nodeName: string } }>("vm", "demo", "-n", NS)).status
      .nodeName;
    const migrate = await run(["migrate", "demo", "--wait", ...as("alice")]);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stderr).toMatch(/Succeeded: downtime/);
    const after = await waitForVmPhase(NS, "demo", "Running");
    expect(after.status?.nodeName).not.toBe(before);
    const seen = Math.max(...counters(cli.stdout));
    await cli.waitFor(
      new RegExp(`kubevisor-counter (${seen + 3}|${seen + 4}|${seen + 5})\\b`),
      60_000,
    );
    // The same boot, not a reboot: the marker appears once, from the replay at attach.
    expect(cli.stdout.split(GUEST_BOOT_MARKER).length).toBeLessThanOrEqual(2);
    cli.child.kill("SIGTERM");
    await cli.exited;
  });
});
