/**
 * Helpers for booting the project's Debian cloud image under plain QEMU (no Kubevisor): an
 * SSH key pair, a NoCloud seed ISO, SSH with retries and the guest agent over its socket.
 * Shared by tests and benchmarks; every guest they start has outbound traffic confined
 * (`restrict=on`, one host forward on 127.0.0.1).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEBIAN_DEFAULT_USER } from "../../src/vmm/debian-image.js";

const run = promisify(execFile);

export interface SshKey {
  privateKeyPath: string;
  publicKey: string;
}

/** A fresh ed25519 key pair without passphrase in `dir`. */
export async function generateSshKey(dir: string, name = "id_ed25519"): Promise<SshKey> {
  mkdirSync(dir, { recursive: true });
  const privateKeyPath = join(dir, name);
  await run("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    "kubevisor-test",
    "-f",
    privateKeyPath,
  ]);
  return { privateKeyPath, publicKey: readFileSync(`${privateKeyPath}.pub`, "utf8").trim() };
}

export interface SeedOptions {
  instanceId: string;
  hostname: string;
  /** Authorised for the default user; none when the test talks only to the guest agent. */
  sshPublicKey?: string;
  /** Extra `#cloud-config` lines appended to the user-data. */
  extraUserData?: string;
}

/** A NoCloud seed ISO (volume label `cidata`); `sshPublicKey`, if given, is the default user's. */
export async function makeSeedIso(dir: string, seed: SeedOptions): Promise<string> {
  const src = join(dir, "seed");
  mkdirSync(src, { recursive: true });
  writeFileSync(
    join(src, "meta-data"),
    `instance-id: ${seed.instanceId}\nlocal-hostname: ${seed.hostname}\n`,
  );
  const keys = seed.sshPublicKey ? `ssh_authorized_keys:\n  - ${seed.sshPublicKey}\n` : "";
  writeFileSync(join(src, "user-data"), `#cloud-config\n${keys}${seed.extraUserData ?? ""}`);
  const iso = join(dir, "seed.iso");
  await run("genisoimage", [
    "-quiet",
    "-output",
    iso,
    "-volid",
    "cidata",
    "-joliet",
    "-rock",
    join(src, "user-data"),
    join(src, "meta-data"),
  ]);
  return iso;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface SshTarget {
  port: number;
  key: SshKey;
  user?: string;
  host?: string;
}

/** Run `command` in the guest over SSH once; rejects on any failure. */
export async function ssh(target: SshTarget, command: string, timeoutMs = 30_000): Promise<string> {
  const { stdout } = await run(
    "ssh",
    [
      "-F",
      "/dev/null",
      "-i",
      target.key.privateKeyPath,
      "-p",
      String(target.port),
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "LogLevel=ERROR",
      `${target.user ?? DEBIAN_DEFAULT_USER}@${target.host ?? "127.0.0.1"}`,
      command,
    ],
    { timeout: timeoutMs },
  );
  return stdout;
}

/**
 * SSH until it works or `deadline` (epoch ms) passes: sshd starts late in boot, the user's
 * key lands only after cloud-init's init stage, and sshd may restart once after that.
 */
export async function sshWithRetry(
  target: SshTarget,
  command: string,
  deadline: number,
): Promise<string> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await ssh(target, command, Math.max(5_000, Math.min(30_000, deadline - Date.now())));
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`ssh to 127.0.0.1:${target.port} did not succeed in time: ${String(last)}`);
}

/**
 * One qemu-guest-agent command over the host side of its virtio-serial chardev socket. The
 * channel carries no request ids, so each attempt first syncs with a fresh id (and a 0xFF
 * byte that makes the agent drop any half-read input), then sends the command.
 */
export async function agentCommand(
  socketPath: string,
  execute: string,
  args?: object,
  timeoutMs = 3_000,
): Promise<unknown> {
  const sock = createConnection(socketPath);
  const lines: unknown[] = [];
  let buffer = "";
  let wake: (() => void) | undefined;
  sock.setEncoding("latin1");
  sock.on("data", (chunk: string) => {
    buffer += chunk.replace(/\xff/g, "");
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) {
        try {
          lines.push(JSON.parse(line));
        } catch {
          // Partial output of an earlier session: the sync below skips it.
        }
      }
      nl = buffer.indexOf("\n");
    }
    wake?.();
  });
  const closed = new Promise<never>((_, reject) => {
    sock.once("error", reject);
    sock.once("close", () => reject(new Error("agent socket closed")));
  });
  closed.catch(() => {});
  const next = async (match: (msg: Record<string, unknown>) => boolean): Promise<unknown> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = lines.findIndex((l) => typeof l === "object" && l !== null && match(l as never));
      if (i >= 0) return lines.splice(0, i + 1)[i];
      const left = end - Date.now();
      if (left <= 0)
        throw new Error(`guest agent did not answer ${execute} within ${timeoutMs} ms`);
      await Promise.race([
        new Promise<void>((r) => {
          wake = r;
          setTimeout(r, left);
        }),
        closed,
      ]);
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    const id = Math.floor(Math.random() * 2 ** 31);
    sock.write(
      `\xff${JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } })}\n`,
      "latin1",
    );
    await next((m) => m.return === id);
    sock.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
    const reply = (await next((m) => "return" in m || "error" in m)) as Record<string, unknown>;
    if ("error" in reply) throw new Error(`guest agent ${execute}: ${JSON.stringify(reply.error)}`);
    return reply.return;
  } finally {
    sock.destroy();
  }
}

/** `agentCommand` until the agent answers or `deadline` (epoch ms) passes. */
export async function agentWithRetry(
  socketPath: string,
  execute: string,
  deadline: number,
): Promise<unknown> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await agentCommand(socketPath, execute);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`guest agent on ${socketPath} did not answer in time: ${String(last)}`);
}
