import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type {
  V1ContainerPort,
  V1ExecAction,
  V1HTTPGetAction,
  V1Probe,
  V1TCPSocketAction,
} from "@kubernetes/client-node";

/**
 * Probes and lifecycle hooks: httpGet (HTTP or HTTPS, certificate not verified and no client
 * certificate, like the kubelet), tcpSocket and exec. `ProbeState` is the pure threshold
 * logic; `Prober` runs one probe on its period.
 */

export interface Action {
  exec?: V1ExecAction;
  httpGet?: V1HTTPGetAction;
  tcpSocket?: V1TCPSocketAction;
  sleep?: { seconds: number };
}

export interface ActionContext {
  /** Default host: the pod IP. */
  podIP: string;
  ports: V1ContainerPort[];
  /** Runs a command in the container's sandbox; resolves to its exit code. */
  exec(command: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }>;
}

export interface ActionResult {
  ok: boolean;
  message: string;
}

export function resolvePort(port: number | string, ports: V1ContainerPort[]): number {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = ports.find((p) => p.name === port);
  if (!named) throw new Error(`no container port named ${port}`);
  return named.containerPort;
}

function httpGet(a: V1HTTPGetAction, ctx: ActionContext, timeoutMs: number): Promise<ActionResult> {
  const https = a.scheme?.toUpperCase() === "HTTPS";
  const host = a.host || ctx.podIP;
  const port = resolvePort(a.port, ctx.ports);
  const headers: Record<string, string> = { "User-Agent": "kube-probe/1.36", Accept: "*/*" };
  for (const h of a.httpHeaders ?? []) headers[h.name] = h.value;
  const path = a.path ?? "/";
  return new Promise((resolve) => {
    const req = (https ? httpsRequest : httpRequest)(
      { host, port, path, method: "GET", headers, timeout: timeoutMs, rejectUnauthorized: false },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        // The kubelet counts 2xx and 3xx as success.
        resolve({
          ok: code >= 200 && code < 400,
          message: `HTTP probe ${https ? "https" : "http"}://${host}:${port}${path}: status ${code}`,
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on("error", (err) =>
      resolve({ ok: false, message: `Get "${host}:${port}${path}": ${err.message}` }),
    );
    req.end();
  });
}

function tcpSocket(
  a: V1TCPSocketAction,
  ctx: ActionContext,
  timeoutMs: number,
): Promise<ActionResult> {
  const host = a.host || ctx.podIP;
  const port = resolvePort(a.port, ctx.ports);
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (r: ActionResult) => {
      sock.destroy();
      resolve(r);
    };
    sock.on("connect", () => done({ ok: true, message: `connected to ${host}:${port}` }));
    sock.on("timeout", () => done({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }));
    sock.on("error", (err) =>
      done({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` }),
    );
  });
}

export async function runAction(
  a: Action,
  ctx: ActionContext,
  timeoutMs: number,
): Promise<ActionResult> {
  try {
    if (a.httpGet) return await httpGet(a.httpGet, ctx, timeoutMs);
    if (a.tcpSocket) return await tcpSocket(a.tcpSocket, ctx, timeoutMs);
    if (a.exec) {
      const r = await ctx.exec(a.exec.command ?? [], timeoutMs);
      return { ok: r.exitCode === 0, message: r.output.trim() || `exit code ${r.exitCode}` };
    }
    if (a.sleep) {
      await new Promise((res) => setTimeout(res, a.sleep?.seconds ? a.sleep.seconds * 1000 : 0));
      return { ok: true, message: "slept" };
    }
    return { ok: false, message: "probe has no handler (grpc is not supported on local nodes)" };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

export interface Thresholds {
  successThreshold: number;
  failureThreshold: number;
}

export interface ProbeState {
  /** Last decided outcome; undefined until a threshold has been reached once. */
  healthy?: boolean;
  successes: number;
  failures: number;
}

/** Pure: count consecutive results; the outcome flips only when a threshold is reached. */
export function nextProbeState(s: ProbeState, ok: boolean, t: Thresholds): ProbeState {
  const successes = ok ? s.successes + 1 : 0;
  const failures = ok ? 0 : s.failures + 1;
  let healthy = s.healthy;
  if (ok && successes >= t.successThreshold) healthy = true;
  if (!ok && failures >= t.failureThreshold) healthy = false;
  return { healthy, successes, failures };
}

/** Kubernetes defaults for unset probe fields. */
export function probeTiming(p: V1Probe) {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: (p.periodSeconds ?? 10) * 1000,
    timeoutMs: (p.timeoutSeconds ?? 1) * 1000,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

/**
 * Runs a probe every period until stopped; calls `onChange` whenever the decided outcome
 * flips (and on the first decision).
 */
export class Prober {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private state: ProbeState = { successes: 0, failures: 0 };

  constructor(
    private readonly probe: V1Probe,
    private readonly ctx: ActionContext,
    private readonly onChange: (healthy: boolean, message: string) => void,
  ) {}

  start(): void {
    this.schedule(probeTiming(this.probe).initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const t = probeTiming(this.probe);
    const r = await runAction(this.probe, this.ctx, t.timeoutMs);
    if (this.stopped) return;
    const before = this.state.healthy;
    this.state = nextProbeState(this.state, r.ok, t);
    if (this.state.healthy !== undefined && this.state.healthy !== before) {
      this.onChange(this.state.healthy, r.message);
    }
    this.schedule(t.periodMs);
  }
}
