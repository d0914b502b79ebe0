import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../util/log.js";
import {
  type AllocateRequest,
  type AllocateResponse,
  devicePluginApi,
  type ListAndWatchResponse,
  type PreferredAllocationRequest,
  type PreferredAllocationResponse,
} from "./api.js";
import {
  advertisedDevices,
  allocate,
  nextAction,
  PLUGIN_OPTIONS,
  PLUGIN_SOCKET,
  preferredAllocation,
  registerRequest,
  type WatchedFacts,
} from "./kvm-plugin.js";

export interface AgentOptions {
  /** The kubelet's device-plugin directory (holds kubelet.sock; our socket goes beside it). */
  pluginDir: string;
  /** Where the agent looks for the node's KVM device (the host's /dev, mounted). */
  kvmCheckPath: string;
  /** The device's path on the node, handed to the kubelet in Allocate. */
  kvmHostPath: string;
  devices: number;
  /** How often the kubelet socket and /dev/kvm are looked at. */
  pollMs: number;
  log: Logger;
}

const KUBELET_SOCKET = "kubelet.sock";
const REGISTER_DEADLINE_MS = 10_000;
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * The KVM device plugin: serves the DevicePlugin service on a unix socket in the kubelet's
 * device-plugin directory and registers it with the kubelet. Decisions are in kvm-plugin.ts;
 * this only watches files and speaks gRPC.
 */
export class NodeAgent {
  private server: grpc.Server | undefined;
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, ListAndWatchResponse>>();
  private facts: WatchedFacts | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Times the plugin registered with a kubelet (tests and logs). */
  registrations = 0;

  constructor(private readonly opts: AgentOptions) {}

  get socketPath(): string {
    return join(this.opts.pluginDir, PLUGIN_SOCKET);
  }

  start(): Promise<void> {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.opts.pollMs);
    return this.busy;
  }

  /** Ends the watch streams, stops serving and removes our socket. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.busy;
    await this.stopServing();
  }

  /** One look at the node; actions run one at a time. */
  private tick(): void {
    this.busy = this.busy.then(async () => {
      if (this.stopped) return;
      const now = this.observe();
      const action = nextAction(this.facts, now);
      if (action === "wait" && this.facts?.kubeletSocket !== undefined) {
        this.opts.log.info("kubelet socket gone; waiting for the kubelet");
      }
      try {
        if (action === "register") await this.serveAndRegister();
        if (action === "update") this.broadcast(now.kvmPresent);
        this.facts = now;
      } catch (err) {
        // Facts left as they were: the next tick tries again.
        this.opts.log.warn({ err, action }, "device plugin step failed");
      }
    });
  }

  private observe(): WatchedFacts {
    return {
      kubeletSocket: identity(join(this.opts.pluginDir, KUBELET_SOCKET)),
      ownSocket: existsSync(this.socketPath),
      kvmPresent: existsSync(this.opts.kvmCheckPath),
    };
  }

  private kvmPresent(): boolean {
    return existsSync(this.opts.kvmCheckPath);
  }

  private async serveAndRegister(): Promise<void> {
    await this.stopServing();
    const server = new grpc.Server();
    server.addService(devicePluginApi().DevicePlugin.service, this.handlers());
    // A socket left by an earlier run (or wiped and recreated) would make the bind fail.
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
    await this.register();
    this.registrations++;
    this.opts.log.info(
      { socket: this.socketPath, kvm: this.kvmPresent(), registrations: this.registrations },
      "registered with the kubelet",
    );
  }

  private register(): Promise<void> {
    const { Registration } = devicePluginApi();
    const client = new Registration(
      `unix:${join(this.opts.pluginDir, KUBELET_SOCKET)}`,
      grpc.credentials.createInsecure(),
    );
    const deadline = new Date(Date.now() + REGISTER_DEADLINE_MS);
    return new Promise<void>((resolve, reject) => {
      const call = client.Register as (
        req: unknown,
        opts: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null) => void,
      ) => void;
      call.call(client, registerRequest(PLUGIN_SOCKET), { deadline }, (err) => {
        client.close();
        if (err) reject(new Error(`Register with the kubelet failed: ${err.message}`));
        else resolve();
      });
    });
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const devices = () => ({ devices: advertisedDevices(this.kvmPresent(), this.opts.devices) });
    return {
      GetDevicePluginOptions: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, PLUGIN_OPTIONS),
      ListAndWatch: (call: grpc.ServerWritableStream<unknown, ListAndWatchResponse>) => {
        this.streams.add(call);
        call.on("cancelled", () => this.streams.delete(call));
        call.on("close", () => this.streams.delete(call));
        call.write(devices());
      },
      Allocate: (
        call: grpc.ServerUnaryCall<AllocateRequest, AllocateResponse>,
        cb: grpc.sendUnaryData<AllocateResponse>,
      ) => cb(null, allocate(call.request, this.opts.kvmHostPath)),
      GetPreferredAllocation: (
        call: grpc.ServerUnaryCall<PreferredAllocationRequest, PreferredAllocationResponse>,
        cb: grpc.sendUnaryData<PreferredAllocationResponse>,
      ) => cb(null, preferredAllocation(call.request)),
      PreStartContainer: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
    };
  }

  private broadcast(kvmPresent: boolean): void {
    const message = { devices: advertisedDevices(kvmPresent, this.opts.devices) };
    this.opts.log.info({ kvm: kvmPresent, devices: message.devices.length }, "devices changed");
    for (const stream of this.streams) stream.write(message);
  }

  private async stopServing(): Promise<void> {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    if (server) {
      // Graceful for calls in flight, bounded: a kubelet holding a call open cannot stall us.
      await Promise.race([
        new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
        new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref()),
      ]);
      server.forceShutdown();
    }
    rmSync(this.socketPath, { force: true });
  }
}

/** A file's identity (device and inode): a recreated kubelet.sock gets another one. */
function identity(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}
