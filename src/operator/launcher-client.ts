import https from "node:https";
import type { z } from "zod";
import { LAUNCHER_PORT, LauncherStatus, launcherServerName } from "../api/index.js";
import { BoundedRequestError, boundedRequest, parseJsonBody } from "../kube/bounded-request.js";

export interface LauncherTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Where a launcher is: its pod IP and the VM whose certificate it serves. */
export interface LauncherAddress {
  podIP: string;
  namespace: string;
  vmName: string;
}

/**
 * How a launcher let us down. `unreachable`: no answer at all (nothing listening, a
 * connection refused or never made). `misbehaving`: it answered, but not as the launcher
 * API answers — an error status, a body that is not JSON or not the expected shape, an
 * answer too large, or one that did not finish in time. A launcher runs next to a guest
 * that may be hostile, so every answer is checked before anyone acts on it.
 */
export type LauncherFault = "unreachable" | "misbehaving";

export class LauncherError extends Error {
  constructor(
    readonly fault: LauncherFault,
    message: string,
    /** The launcher's HTTP status, when it answered with an error. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "LauncherError";
  }
}

/** Launcher answers are a few hundred bytes; this leaves room and bounds a hostile one. */
export const MAX_LAUNCHER_ANSWER_BYTES = 1024 * 1024;
export const STATUS_DEADLINE_MS = 3000;

/**
 * The operator's side of the launcher API: mutual TLS to the pod IP, checking the
 * launcher's certificate against the operator CA under the VM's launcher server name
 * (pod IPs are not known when the certificate is issued). Every call has a total deadline
 * and a size cap (src/kube/bounded-request.ts); every failure is a LauncherError.
 */
export class LauncherClient {
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 8 });

  /** Fixed material, or a getter for material that is renewed (certs/leaf-keeper.ts). */
  private readonly tls: () => LauncherTls;

  constructor(
    tls: LauncherTls | (() => LauncherTls),
    private readonly opts: { timeoutMs?: number; port?: number; maxBytes?: number } = {},
  ) {
    this.tls = typeof tls === "function" ? tls : () => tls;
  }

  status(at: LauncherAddress): Promise<LauncherStatus> {
    return this.get(at, "/status", LauncherStatus, STATUS_DEADLINE_MS);
  }

  /**
   * POST /start: let the launcher prepare its disks and start QEMU (or wait for the incoming
   * guest). Callers send it only to a pod whose UID the operator recorded. Idempotent.
   */
  async start(at: LauncherAddress): Promise<void> {
    await this.call(at, "POST", "/start", {}, STATUS_DEADLINE_MS);
  }

  /** GET `path` and check the answer against `schema`. */
  async get<S extends z.ZodType>(
    at: LauncherAddress,
    path: string,
    schema: S,
    timeoutMs?: number,
  ): Promise<z.infer<S>> {
    return this.parse(at, path, schema, await this.call(at, "GET", path, undefined, timeoutMs));
  }

  /** Check a launcher answer against its schema, as a `misbehaving` LauncherError. */
  parse<S extends z.ZodType>(at: LauncherAddress, path: string, schema: S, answer: unknown) {
    const parsed = schema.safeParse(answer);
    if (parsed.success) return parsed.data as z.infer<S>;
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join(".") || "(root)";
    throw new LauncherError(
      "misbehaving",
      `launcher ${at.podIP} ${path}: unexpected answer: ${where}: ${issue?.message}`,
    );
  }

  /** One JSON request; rejects on any non-2xx answer with the launcher's own words. */
  async call(
    at: LauncherAddress,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.opts.timeoutMs ?? 5000,
  ): Promise<unknown> {
    const what = `launcher ${at.podIP} ${method} ${path}`;
    const res = await this.request(at, method, path, body, timeoutMs);
    try {
      return parseJsonBody(res.body, what);
    } catch (err) {
      throw new LauncherError("misbehaving", (err as Error).message);
    }
  }

  /**
   * One request whose body is kept as bytes (at most `maxBytes`, default the client's cap);
   * rejects on any non-2xx answer with the launcher's own words and `status` set.
   */
  async request(
    at: LauncherAddress,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.opts.timeoutMs ?? 5000,
    maxBytes = this.opts.maxBytes ?? MAX_LAUNCHER_ANSWER_BYTES,
  ): Promise<{ headers: Record<string, unknown>; body: Buffer }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const what = `launcher ${at.podIP} ${method} ${path}`;
    const tls = this.tls();
    try {
      const res = await boundedRequest(
        {
          host: at.podIP,
          port: this.opts.port ?? LAUNCHER_PORT,
          path,
          servername: launcherServerName(at.namespace, at.vmName),
        },
        {
          method,
          // Node's agent pools connections per (ca, cert, key): a renewed certificate opens
          // new connections, established ones finish with the old.
          ca: tls.caPem,
          cert: tls.certPem,
          key: tls.keyPem,
          agent: this.agent,
          headers: text
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(text) }
            : {},
        },
        text,
        { deadlineMs: timeoutMs, maxBytes },
        what,
      );
      if (res.status < 200 || res.status >= 300) {
        const words = res.body.toString("utf8").slice(0, 512).trim();
        throw new LauncherError("misbehaving", `${what}: ${res.status} ${words}`, res.status);
      }
      return { headers: res.headers, body: res.body };
    } catch (err) {
      if (err instanceof LauncherError) throw err;
      if (err instanceof BoundedRequestError)
        throw new LauncherError(
          err.failure === "noAnswer" ? "unreachable" : "misbehaving",
          err.message,
        );
      throw new LauncherError("unreachable", `${what}: ${String(err)}`);
    }
  }

  close() {
    this.agent.destroy();
  }
}
