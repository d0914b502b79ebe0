/**
 * Driving the web UI in a real browser: Debian's chromium through playwright-core (its own
 * browser download cannot work here), and `kubectl vm ui` started as a given user.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Browser, chromium, type Page } from "playwright-core";

const REPO = join(import.meta.dirname, "..", "..");
/** Screenshots of each page, for people reviewing a run (gitignored). */
export const SHOTS = join(REPO, "test-results", "ui");
export const CHROMIUM = process.env.KUBEVISOR_CHROMIUM ?? "/usr/bin/chromium";

export interface LocalUi {
  proc: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** `kubectl vm ui --no-browser` with `kubeconfig`; resolves with the one-time URL it prints. */
export async function startLocalUi(kubeconfig: string, namespace: string): Promise<LocalUi> {
  const proc = spawn(
    process.execPath,
    [
      join(REPO, "dist", "cli", "kubectl-vm.js"),
      "ui",
      "--no-browser",
      "--kubeconfig",
      kubeconfig,
      "-n",
      namespace,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const [line] = (await once(
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }),
    "line",
  )) as [string];
  return {
    proc,
    url: line,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGINT");
      await once(proc, "exit");
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  // As root, chromium needs --no-sandbox; the page only ever talks to 127.0.0.1.
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
}

/** A page that records every console error and uncaught exception of the app. */
export async function openPage(
  browser: Browser,
  url: string,
): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** What the VNC pane's canvas shows: how many pixels are not black, and a hash of them all. */
export interface Screen {
  width: number;
  height: number;
  lit: number;
  hash: number;
}

/** Reads the noVNC canvas's pixels in the page (undefined until it has a size). */
export async function readScreen(page: Page): Promise<Screen | undefined> {
  return await page.evaluate(() => {
    // Runs in the page; the tests are type-checked without the DOM library.
    interface Canvas {
      width: number;
      height: number;
      getContext(kind: "2d"): {
        getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
      } | null;
    }
    const { document } = globalThis as unknown as {
      document: { querySelector(selector: string): Canvas | null };
    };
    const canvas = document.querySelector('[data-testid="vnc"] canvas');
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx || canvas.width === 0 || canvas.height === 0) return undefined;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let lit = 0;
    let hash = 0x811c9dc5;
    for (let i = 0; i < data.length; i += 4) {
      const r = data[i] ?? 0;
      const g = data[i + 1] ?? 0;
      const b = data[i + 2] ?? 0;
      if (r + g + b > 0) lit++;
      hash = Math.imul(hash ^ (r | (g << 8) | (b << 16)), 0x01000193) >>> 0;
    }
    return { width: canvas.width, height: canvas.height, lit, hash };
  });
}
