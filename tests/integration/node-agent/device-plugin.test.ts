import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KVM_RESOURCE } from "../../../src/api/launcher.js";
import {
  type AllocateResponse,
  devicePluginApi,
  type ListAndWatchResponse,
  type RegisterRequest,
} from "../../../src/node-agent/api.js";
import { PLUGIN_SOCKET } from "../../../src/node-agent/kvm-plugin.js";

const REPO = join(import.meta.dirname, "..", "..", "..");

/** The calls the kubelet makes on a plugin (proto-loader clients are untyped). */
interface PluginClient {
  ListAndWatch(req: object): grpc.ClientReadableStream<ListAndWatchResponse>;
  Allocate(
    req: object,
    cb: (err: grpc.ServiceError | null, res: AllocateResponse) => void,
  ): grpc.ClientUnaryCall;
  close(): void;
}

/** Plays the kubelet's side: its Registration service on kubelet.sock, as a real gRPC server. */
class FakeKubelet {
  readonly registrations: RegisterRequest[] = [];
  private server: grpc.Server | undefined;

  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(devicePluginApi().Registration.service, {
      Register: (
        call: grpc.ServerUnaryCall<RegisterRequest, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        this.registrations.push(call.request);
        cb(null, {});
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(
        `unix:${join(this.dir, "kubelet.sock")}`,
        grpc.ServerCredentials.createInsecure(),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    this.server = server;
  }

  /** As a restarting kubelet does: its socket goes, and every plugin socket with it. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    rmSync(join(this.dir, "kubelet.sock"), { force: true });
    rmSync(join(this.dir, PLUGIN_SOCKET), { force: true });
  }

  /** Dials the plugin's socket as the kubelet does after a registration. */
  plugin(): PluginClient {
    const { DevicePlugin } = devicePluginApi();
    return new DevicePlugin(
      `unix:${join(this.dir, PLUGIN_SOCKET)}`,
      grpc.credentials.createInsecure(),
    ) as unknown as PluginClient;
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first ListAndWatch message, as the kubelet receives it. */
function firstDevices(client: PluginClient): Promise<ListAndWatchResponse> {
  const stream = client.ListAndWatch({});
  return new Promise((resolve, reject) => {
    stream.once("data", (m: ListAndWatchResponse) => {
      resolve(m);
      stream.cancel();
    });
    stream.once("error", (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
  });
}

function allocate(client: PluginClient, ids: string[]) {
  return new Promise<AllocateResponse>((resolve, reject) => {
    client.Allocate({ container_requests: [{ devices_ids: ids }] }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

let dir: string;
let kubelet: FakeKubelet;
let agent: ChildProcess | undefined;
let kvmFile: string;

function startAgent(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "src/node-agent/main.ts")], {
    env: {
      ...process.env,
      KUBEVISOR_DEVICE_PLUGIN_DIR: join(dir, "plugins"),
      KUBEVISOR_KVM_CHECK_PATH: kvmFile,
      KUBEVISOR_KVM_DEVICES: "3",
      KUBEVISOR_NODE_AGENT_POLL_MS: "100",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  agent = child;
  return child;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "kv-node-agent-"));
  mkdirSync(join(dir, "plugins"));
  mkdirSync(join(dir, "dev"));
  kvmFile = join(dir, "dev", "kvm");
  kubelet = new FakeKubelet(join(dir, "plugins"));
  await kubelet.start();
});

afterEach(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    agent.kill("SIGKILL");
    await once(agent, "exit");
  }
  agent = undefined;
  kubelet.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the KVM device plugin against a kubelet", () => {
  it("registers devices.kubevisor.io/kvm, advertises the devices and allocates /dev/kvm rw", async () => {
    writeFileSync(kvmFile, "");
    startAgent();
    const reg = await until("a registration", () => kubelet.registrations[0]);
    expect(reg).toMatchObject({
      version: "v1beta1",
      endpoint: PLUGIN_SOCKET,
      resource_name: KVM_RESOURCE,
    });
    const client = kubelet.plugin();
    try {
      const list = await firstDevices(client);
      expect(list.devices.map((d) => [d.ID, d.health])).toEqual([
        ["kvm-0", "Healthy"],
        ["kvm-1", "Healthy"],
        ["kvm-2", "Healthy"],
      ]);
      const answer = await allocate(client, ["kvm-1"]);
      expect(answer.container_responses).toHaveLength(1);
      expect(answer.container_responses[0]?.devices).toEqual([
        { container_path: "/dev/kvm", host_path: "/dev/kvm", permissions: "rw" },
      ]);
    } finally {
      client.close();
    }
  });

  it("advertises nothing on a node without /dev/kvm", async () => {
    startAgent();
    await until("a registration", () => kubelet.registrations[0]);
    const client = kubelet.plugin();
    try {
      expect((await firstDevices(client)).devices).toEqual([]);
    } finally {
      client.close();
    }
  });

  it("registers again when the kubelet restarts, and stops cleanly on SIGTERM", async () => {
    writeFileSync(kvmFile, "");
    const child = startAgent();
    await until("a registration", () => kubelet.registrations[0]);
    kubelet.stop();
    await kubelet.start();
    await until("a second registration", () => kubelet.registrations[1]);
    const client = kubelet.plugin();
    try {
      expect((await firstDevices(client)).devices).toHaveLength(3);
    } finally {
      client.close();
    }
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(existsSync(join(dir, "plugins", PLUGIN_SOCKET))).toBe(false);
  });
});
