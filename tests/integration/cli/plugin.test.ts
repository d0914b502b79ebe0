/**
 * The single-file kubectl plugin (`npm run build` makes dist/plugin/): it runs from a folder
 * holding nothing but itself, and the krew manifest names the archive by its own checksum.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const PLUGIN = join(import.meta.dirname, "..", "..", "..", "dist", "plugin");
const alone = mkdtempSync(join(tmpdir(), "kubectl-vm-alone-"));
for (const f of ["kubectl-vm", "kubectl_complete-vm"])
  copyFileSync(join(PLUGIN, f), join(alone, f));

afterAll(() => rmSync(alone, { recursive: true, force: true }));

const run = (file: string, args: string[]) =>
  spawnSync(process.execPath, [join(alone, file), ...args], {
    cwd: alone,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: alone, KUBECONFIG: join(alone, "none") },
  });

describe("single-file kubectl plugin", () => {
  it("answers --help and usage errors with nothing but Node.js", () => {
    const help = run("kubectl-vm", ["--help"]);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kubectl vm COMMAND/);
    const bad = run("kubectl-vm", ["reboot", "demo"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "reboot"/);
  });

  it("loads its commands (client-node inside) when one runs", () => {
    const r = run("kubectl-vm", [
      "status",
      "demo",
      "--server",
      "https://127.0.0.1:1",
      "--request-timeout",
      "2s",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
  });

  it("serves the web UI from inside the file (kubectl vm ui)", async () => {
    const child = spawn(
      process.execPath,
      [join(alone, "kubectl-vm"), "ui", "--no-browser", "--server", "https://127.0.0.1:1"],
      {
        cwd: alone,
        env: { PATH: process.env.PATH ?? "", HOME: alone },
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    try {
      const [line] = (await once(
        createInterface({ input: child.stdout as NodeJS.ReadableStream }),
        "line",
      )) as [string];
      const login = await fetch(line, { redirect: "manual" });
      const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const page = await fetch(new URL("/", line), { headers: { cookie } });
      expect(await page.text()).toMatch(/<div id="app">/);
      const app = await fetch(new URL("/app.js", line), { headers: { cookie } });
      expect(app.headers.get("content-type")).toMatch(/javascript/);
    } finally {
      child.kill("SIGINT");
      await once(child, "exit");
    }
  });

  it("completes commands", () => {
    expect(run("kubectl_complete-vm", ["mig"]).stdout).toBe("migrate\nmigrate-cancel\n:4\n");
  });

  it("has a krew manifest naming the archive by its sha256", () => {
    const manifest = parse(readFileSync(join(PLUGIN, "vm.yaml"), "utf8")) as {
      kind: string;
      metadata: { name: string };
      spec: { platforms: { sha256: string; bin: string }[] };
    };
    const sum = createHash("sha256")
      .update(readFileSync(join(PLUGIN, "kubevisor-vm.tar.gz")))
      .digest("hex");
    expect(manifest.kind).toBe("Plugin");
    expect(manifest.metadata.name).toBe("vm");
    expect(manifest.spec.platforms[0]).toMatchObject({ sha256: sum, bin: "kubectl-vm" });
  });
});
