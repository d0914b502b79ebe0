/** Running kubectl-vm as a user would, with a kubeconfig of its own (impersonation via `as`). */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { parse, stringify } from "yaml";

const REPO = join(import.meta.dirname, "..", "..", "..");
const dir = mkdtempSync(join(tmpdir(), "kubectl-vm-"));

/** The admin kubeconfig acting as `user` (the admin may impersonate anyone). */
export function kubeconfigAs(user: string): string {
  const config = parse(readFileSync(inject("kubeconfig"), "utf8")) as {
    users: { user: Record<string, unknown> }[];
  };
  for (const u of config.users) u.user.as = user;
  const file = join(dir, `${user}.kubeconfig`);
  writeFileSync(file, stringify(config));
  return file;
}

export class Cli {
  stdout = "";
  stderr = "";
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO, "src/cli/kubectl-vm.ts"), ...args],
      {
        cwd: REPO,
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, KUBECONFIG: "" },
      },
    );
    this.child.stdout?.on("data", (c: Buffer) => {
      this.stdout += c.toString("latin1");
    });
    this.child.stderr?.on("data", (c: Buffer) => {
      this.stderr += c.toString();
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  type(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.stdout)) {
      if (Date.now() > deadline)
        throw new Error(
          `${re} not seen; stdout tail ${JSON.stringify(this.stdout.slice(-300))}; stderr ${this.stderr}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Run to completion; stdin closed at once. */
export async function run(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = new Cli(args);
  cli.child.stdin?.end();
  const code = await cli.exited;
  return { code, stdout: cli.stdout, stderr: cli.stderr };
}
