import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseTerminationMessage } from "../../../src/api/launcher.js";
import { LauncherProcess, type Pki, testPki } from "./harness.js";

/**
 * The attacker's image through a whole launcher: a container disk whose qcow2 header names a
 * host file as its backing file. The launcher must end with ConfigError naming the disk,
 * before any QEMU exists that could open the file.
 */
let pki: Pki;
let dir: string;
const launchers: LauncherProcess[] = [];
beforeAll(async () => {
  pki = await testPki();
  dir = mkdtempSync(join(tmpdir(), "kv-refusal-"));
});
afterAll(async () => {
  await Promise.all(launchers.map((l) => l.cleanup()));
  rmSync(dir, { recursive: true, force: true });
});

it("refuses a container disk whose qcow2 names a host file, before starting QEMU", async () => {
  const hostSecret = join(dir, "host-secret.key");
  writeFileSync(hostSecret, "-----BEGIN PRIVATE KEY-----\n");
  const image = join(dir, "image");
  mkdirSync(join(image, "disk"), { recursive: true });
  execFileSync("qemu-img", [
    "create",
    "-q",
    "-f",
    "qcow2",
    "-b",
    hostSecret,
    "-F",
    "raw",
    join(image, "disk", "disk.qcow2"),
  ]);
  const launcher = await LauncherProcess.start(
    pki,
    "evil",
    {
      memory: { size: "256Mi" },
      acceleration: "Emulation",
      disks: [{ name: "root", containerDisk: { image: "evil/image:1", path: "/disk/disk.qcow2" } }],
    },
    { images: { "evil/image:1": image }, env: { KUBEVISOR_BOOT_MARKER: "" } },
  );
  launchers.push(launcher);
  expect(await launcher.exited).toEqual({ code: 2, signal: null });
  expect(parseTerminationMessage(launcher.terminationMessage())).toEqual({
    reason: "ConfigError",
    message: expect.stringMatching(
      /^disk root: image .*disk\.qcow2 is refused: its qcow2 header names a backing file$/,
    ),
  });
  expect(launcher.qemuPid()).toBeUndefined();
});
