/**
 * Reaching a real guest through the Kubernetes API alone, on the local cluster:
 * `kubectl vm ssh` runs a command in the Debian cloud guest, `kubectl vm port-forward` gives
 * its SSH banner, `kubectl vm vnc` its RFB greeting; a `view` user is refused each (exit 4).
 * One Debian VM serves every test (a first boot takes about a minute under TCG); no test
 * reaches the pod IP.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bind, Cli, kubeconfigAs, run, waitForSubresourcesApi } from "./cli-helpers.js";
import { cloudConfig, debianVm, GUEST_USER, type KeyPair, makeKeyPair } from "./guests-lib.js";
import { createNamespace, kubectl, waitFor, waitForVmPhase } from "./lib.js";
import { applyJson } from "./migration-lib.js";

const NS = "e2e-reach";
const VM = "deb";
const BOOT_MS = 600_000;
let key: KeyPair;
const as = (user: string) => ["-n", NS, "--kubeconfig", kubeconfigAs(user)];

/** ssh's own options after `--`: the run's key, no prompts, no known_hosts of the user's. */
const sshOptions = () => [
  "-i",
  key.privateKey,
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  `UserKnownHostsFile=${key.dir}/known_hosts`,
  "-o",
  "LogLevel=ERROR",
  "-o",
  "ConnectTimeout=30",
];

/** The first bytes a TCP server at 127.0.0.1:port sends (an SSH banner, an RFB greeting). */
async function greeting(port: number, until: RegExp): Promise<string> {
  const sock = connect(port, "127.0.0.1");
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = "";
      sock.on("data", (d: Buffer) => {
        text += d.toString("latin1");
        if (until.test(text)) resolve(text);
      });
      sock.once("error", reject);
      sock.once("close", () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
    });
  } finally {
    sock.destroy();
  }
}

/** A long-running kubectl-vm that prints `127.0.0.1:PORT`; its port. */
async function listening(cli: Cli, line: RegExp): Promise<number> {
  await cli.waitFor(line, 60_000);
  return Number(/127\.0\.0\.1:(\d+)/.exec(cli.stdout)?.[1]);
}

beforeAll(async () => {
  key = await makeKeyPair();
  await createNamespace(NS);
  await bind(NS, "alice", "edit");
  await bind(NS, "bob", "view");
  await applyJson(
    JSON.stringify(debianVm(NS, VM, "BIOS", { userData: cloudConfig(key.publicKey) })),
  );
  await waitForSubresourcesApi();
  await waitForVmPhase(NS, VM, "Running", BOOT_MS);
}, BOOT_MS + 60_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
  key?.dispose();
});

describe("kubectl vm ssh | port-forward | vnc against a Debian guest", () => {
  it(
    "ssh runs a command in the guest through the API",
    async () => {
      // Until sshd answers (cloud-init restarts it once just after it first does).
      const out = await waitFor(
        "kubectl vm ssh to answer",
        async () => {
          const r = await run([
            "ssh",
            `${GUEST_USER}@${VM}`,
            ...as("alice"),
            "--",
            ...sshOptions(),
            "uname",
            "-a",
          ]);
          if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr.trim()}`);
          return r.stdout;
        },
        BOOT_MS,
        3000,
      );
      expect(out).toMatch(/^Linux \S+ .*GNU\/Linux\n$/);
    },
    BOOT_MS,
  );

  it("port-forward LOCAL:22 gives the guest's SSH banner", async () => {
    const cli = new Cli(["port-forward", VM, "0:22", ...as("alice")]);
    try {
      const port = await listening(cli, /Forwarding 127\.0\.0\.1:\d+ -> VM deb port 22/);
      // Each connection is its own tunnel: two in a row both reach sshd.
      for (let i = 0; i < 2; i++) {
        expect(await greeting(port, /\n/)).toMatch(/^SSH-2\.0-OpenSSH_\S+/);
      }
    } finally {
      cli.child.kill("SIGINT");
    }
    expect(await cli.exited).toBe(0);
  });

  it("vnc --port P lets a raw TCP client read the RFB greeting", async () => {
    const wanted = 20_000 + Math.floor(Math.random() * 20_000);
    const cli = new Cli(["vnc", VM, "--port", String(wanted), ...as("alice")]);
    try {
      const port = await listening(cli, /VNC for VM deb on 127\.0\.0\.1:\d+/);
      expect(port).toBe(wanted);
      expect(await greeting(port, /\n/)).toBe("RFB 003.008\n");
    } finally {
      cli.child.kill("SIGINT");
    }
    expect(await cli.exited).toBe(0);
  });

  it("refuses a view user each of them with exit code 4", async () => {
    const ssh = await run([
      "ssh",
      `${GUEST_USER}@${VM}`,
      ...as("bob"),
      "--",
      ...sshOptions(),
      "true",
    ]);
    expect(ssh.code, ssh.stderr).toBe(4);
    expect(ssh.stderr).toContain('cannot get resource "virtualmachines/portforward"');
    const pf = await run(["port-forward", VM, "0:22", ...as("bob")]);
    expect(pf.code, pf.stderr).toBe(4);
    expect(pf.stderr).toContain('cannot get resource "virtualmachines/portforward"');
    expect(pf.stdout).not.toContain("Forwarding");
    const vnc = await run(["vnc", VM, ...as("bob")]);
    expect(vnc.code, vnc.stderr).toBe(4);
    expect(vnc.stderr).toContain('cannot get resource "virtualmachines/vnc"');
  });
});
