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

/** What the VNC pane's canvas shows: how many pixels are not black, in all and per row. */
export interface Screen {
  width: number;
  height: number;
  lit: number;
  rows: number[];
}

/**
 * Pixel rows whose lit count differs between two screens. QEMU blinks a text cursor by
 * itself, even in a paused guest: it spans two pixel rows, one text line is 16, so only a
 * difference above 16 rows is the guest drawing.
 */
export function changedRows(a: Screen, b: Screen): number {
  let n = 0;
  for (let y = 0; y < Math.max(a.rows.length, b.rows.length); y++) {
    if (a.rows[y] !== b.rows[y]) n++;
  }
  return n;
}
export const GUEST_DREW = 16;

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
    const rows: number[] = [];
    for (let y = 0; y < canvas.height; y++) {
      let n = 0;
      for (let i = y * canvas.width * 4; i < (y + 1) * canvas.width * 4; i += 4) {
        if ((data[i] ?? 0) + (data[i + 1] ?? 0) + (data[i + 2] ?? 0) > 0) n++;
      }
      rows.push(n);
    }
    const lit = rows.reduce((a, b) => a + b, 0);
    return { width: canvas.width, height: canvas.height, lit, rows };
  });
}
