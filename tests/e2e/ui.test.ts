/**
 * The web UI end to end, in a real browser (Debian's chromium) against the whole product on
 * the local cluster: `kubectl vm ui` as an edit user and as a view user.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { installChart, RELEASE_NAMESPACE } from "../../src/local/product.js";
import { bind, kubeconfigAs, waitForSubresourcesApi } from "./cli-helpers.js";
import {
  createNamespace,
  getJson,
  getVm,
  kc,
  kubectl,
  vmManifest,
  waitFor,
  waitForVmPhase,
} from "./lib.js";
import { getMigration, nodes } from "./migration-lib.js";
import {
  changedRows,
  GUEST_DREW,
  type LocalUi,
  launchBrowser,
  openPage,
  readScreen,
  type Screen,
  shot,
  startLocalUi,
} from "./ui-lib.js";

const NS = "e2e-ui";
let browser: Browser;
let alice: LocalUi;
let page: Page;
let errors: string[];

beforeAll(async () => {
  await createNamespace(NS);
  await kubectl(["apply", "-f", "-"], vmManifest(NS, "demo", { runStrategy: "Always" }));
  await bind(NS, "alice", "edit");
  await bind(NS, "bob", "view");
  await waitForSubresourcesApi();
  await waitForVmPhase(NS, "demo", "Running", 240_000);
  browser = await launchBrowser();
  alice = await startLocalUi(kubeconfigAs("alice"), NS);
  ({ page, errors } = await openPage(browser, alice.url));
});

afterAll(async () => {
  await browser?.close();
  await alice?.stop();
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

/**
 * Typed into the guest's serial shell: a counter on the guest's screen (the VGA console,
 * tty0). The built-in counter goes to /dev/console, which `console=ttyS0` makes the serial
 * port only (and `console=tty0 console=ttyS0` would not change that: /dev/console is the last
 * one named), so without this only the cursor would blink. The VM boots the bzImage: a PVH
 * boot gives the kernel no VGA text console at all.
 */
const SCREEN_COUNTER = "while :; do echo screen-$((n=n+1)); usleep 300000; done >/dev/tty0 2>&1 &";

/**
 * Waits for the VNC canvas to show something, then for the guest to draw on it (more than
 * QEMU's own blinking cursor changes): the guest is live and its screen reaches the page.
 */
async function screenChanges(p: Page, what: string): Promise<Screen> {
  const first = await waitFor(
    `${what}: a non-blank screen`,
    async () => {
      const s = await readScreen(p);
      return s && s.lit > 0 ? s : undefined;
    },
    60_000,
  );
  return await waitFor(
    `${what}: the screen to change`,
    async () => {
      const s = await readScreen(p);
      return s && s.lit > 0 && changedRows(first, s) > GUEST_DREW ? s : undefined;
    },
    60_000,
  );
}

const vncConnects = async (p: Page) =>
  Number((await p.locator("[data-vnc-connects]").getAttribute("data-vnc-connects")) ?? "0");

/** Chrome logs each refused fetch as a console error; those are expected where a test forces one. */
const appErrors = () => errors.filter((e) => !/Failed to load resource/.test(e));

describe("web UI (kubectl vm ui, edit user)", () => {
  it("lists the VM as Running, live", async () => {
    const row = page.locator('tr[data-vm="demo"]');
    await row.getByText("Running").waitFor({ timeout: 60_000 });
    const vm = await getVm(NS, "demo");
    await expect(row.textContent()).resolves.toContain(vm.status?.nodeName ?? "?");
    await shot(page, "list");
  });

  it("shows the serial console: the guest's counter and a typed command's output", async () => {
    await page.getByRole("link", { name: "demo" }).click();
    await page.getByRole("tab", { name: "Console" }).click();
    const term = page.getByTestId("console");
    await term
      .getByText(/kubevisor-counter \d+/)
      .first()
      .waitFor({ timeout: 60_000 });
    await term.click();
    await page.keyboard.type("echo ui-$((40+2))");
    await page.keyboard.press("Enter");
    await term.getByText("ui-42").first().waitFor({ timeout: 60_000 });
    await shot(page, "console");
  });

  it("stops and starts the VM from the page (checked through kubectl)", async () => {
    await page.getByRole("tab", { name: "Overview" }).click();
    await page.locator('button[data-action="stop"]').click();
    await waitForVmPhase(NS, "demo", "Stopped", 180_000);
    await page.locator(".phase", { hasText: "Stopped" }).first().waitFor({ timeout: 30_000 });
    await page.locator('button[data-action="start"]').click();
    await waitForVmPhase(NS, "demo", "Running", 240_000);
    await page.locator(".phase", { hasText: "Running" }).first().waitFor({ timeout: 30_000 });
    await shot(page, "vm");
  });

  it("shows the guest's screen on the VNC tab: non-blank and changing", async () => {
    await page.getByRole("tab", { name: "Console" }).click();
    await page.locator('[data-console-state="connected"]').waitFor({ timeout: 60_000 });
    const term = page.getByTestId("console");
    await term
      .getByText(/kubevisor-counter \d+/)
      .first()
      .waitFor({ timeout: 60_000 });
    await term.click();
    await page.keyboard.type(SCREEN_COUNTER);
    await page.keyboard.press("Enter");
    await page.getByRole("tab", { name: "VNC" }).click();
    await page.locator('[data-vnc-state="connected"]').waitFor({ timeout: 60_000 });
    const screen = await screenChanges(page, "the VNC screen");
    expect(screen.width).toBeGreaterThan(0);
    await shot(page, "vnc");
  });

  it("migrates the VM from the VNC tab: the screen reconnects by itself, the bar reaches Succeeded", async () => {
    expect((await nodes()).length).toBeGreaterThanOrEqual(2);
    const before = (await getVm(NS, "demo")).status?.nodeName;
    const connectsBefore = await vncConnects(page);
    expect(connectsBefore).toBeGreaterThanOrEqual(1);
    await page.locator('button[data-action="migrate"]').click();
    await waitFor("the VM on its new node", async () => {
      const vm = await getVm(NS, "demo");
      return vm.status?.phase === "Running" && vm.status.nodeName !== before ? true : undefined;
    });
    // The source launcher's end closes the session; the pane opens a new one by itself,
    // now relayed to the target, and the guest's screen keeps changing there.
    await waitFor("the VNC pane to reconnect", async () =>
      (await vncConnects(page)) > connectsBefore ? true : undefined,
    );
    await page.locator('[data-vnc-state="connected"]').waitFor({ timeout: 60_000 });
    await screenChanges(page, "the VNC screen after migration");
    await shot(page, "vnc-migrated");
    await page.getByRole("tab", { name: "Overview" }).click();
    const item = page.locator("li[data-migration]").first();
    await item.locator(".migration-phase", { hasText: "Succeeded" }).waitFor({ timeout: 240_000 });
    await expect(item.locator("progress").getAttribute("value")).resolves.toBe("100");
    const name = (await item.getAttribute("data-migration")) ?? "";
    expect((await getMigration(NS, name)).status?.phase).toBe("Succeeded");
    await shot(page, "migrated");
  });

  it("shows the API server's message beside the field of an invalid memory size", async () => {
    await page.goto(alice.url.replace(/\/login.*/, `/#/ns/${NS}/create`));
    await page.getByLabel("Name", { exact: true }).fill("bad-memory");
    await page.getByLabel("Memory", { exact: true }).fill("12Q");
    await page.getByRole("button", { name: "Create" }).click();
    const fieldError = page.locator('[data-field-error="memory"]');
    await fieldError.getByText(/spec\.memory\.size|quantity|12Q/).waitFor({ timeout: 30_000 });
    expect((await kubectl(["get", "vm", "bad-memory", "-n", NS])).code).not.toBe(0);
    await shot(page, "create-error");
  });

  it("logged no console errors", () => {
    expect(appErrors()).toEqual([]);
  });
});

describe("web UI as a view user", () => {
  it("disables actions and the console with the reason; the API refuses them if forced", async () => {
    const bob = await startLocalUi(kubeconfigAs("bob"), NS);
    try {
      const { page: p } = await openPage(browser, bob.url);
      // As a user would: from the list the app opens on to the VM. (Setting the URL's hash
      // raced the app's own first route, which could put the list back.)
      await p.getByRole("link", { name: "demo", exact: true }).click({ timeout: 60_000 });
      const stop = p.locator('button[data-action="stop"]');
      await stop.waitFor({ timeout: 60_000 });
      await expect(stop.isDisabled()).resolves.toBe(true);
      await waitFor("the reason on the button", async () =>
        /does not allow update on virtualmachines\/stop/.test(
          (await stop.getAttribute("title")) ?? "",
        )
          ? true
          : undefined,
      );
      await p.getByRole("tab", { name: "Console" }).click();
      await p.getByText(/does not allow get on virtualmachines\/console/).waitFor();
      await shot(p, "view-user");
      const forced = await p.evaluate(async (ns) => {
        const res = await fetch(
          `/k8s/apis/subresources.kubevisor.io/v1alpha1/namespaces/${ns}/virtualmachines/demo/stop`,
          {
            method: "PUT",
            headers: { "x-kubevisor-ui": "1", "content-type": "application/json" },
            body: "{}",
          },
        );
        return res.status;
      }, NS);
      expect(forced).toBe(403);
      expect((await getVm(NS, "demo")).status?.phase).toBe("Running");
    } finally {
      await bob.stop();
    }
  });
});

describe("web UI installed by the chart (ui.enabled)", () => {
  it("serves a sign-in page: a bad token is refused, an edit token lists the VMs", async () => {
    await installChart(inject("kubeconfig"), { "ui.enabled": "true" });
    const podIP = await waitFor("the UI pod to be Ready", async () => {
      const pods = await getJson<{
        items: { status: { podIP?: string; conditions?: { type: string; status: string }[] } }[];
      }>("pods", "-n", RELEASE_NAMESPACE, "-l", "app.kubernetes.io/component=ui");
      const ready = pods.items.find((p) =>
        p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      return ready?.status.podIP;
    });
    await kc("create", "serviceaccount", "carol", "-n", NS);
    await kc(
      "create",
      "rolebinding",
      "carol-edit",
      "-n",
      NS,
      "--clusterrole=edit",
      `--serviceaccount=${NS}:carol`,
    );
    const token = (await kc("create", "token", "carol", "-n", NS)).trim();

    const { page: p, errors: errs } = await openPage(browser, `http://${podIP}:8080/`);
    const field = p.getByLabel(/bearer token/);
    await field.fill("not-a-token");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByText(/refused this token/).waitFor({ timeout: 30_000 });
    await shot(p, "signin-refused");
    await field.fill(token);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByText(`system:serviceaccount:${NS}:carol`).waitFor({ timeout: 30_000 });
    await p.goto(`http://${podIP}:8080/#/ns/${NS}`);
    await p.locator('tr[data-vm="demo"]').getByText("Running").waitFor({ timeout: 60_000 });
    await shot(p, "in-cluster-list");
    expect(errs.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
