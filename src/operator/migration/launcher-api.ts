import https from "node:https";
import {
  type IncomingAnswer,
  IncomingAnswer as IncomingAnswerSchema,
  LAUNCHER_PORT,
  LauncherMigrationState,
  LauncherStatus,
  launcherServerName,
  MIGRATION_INCOMING_PATH,
  MIGRATION_PATH,
  type MigrateRequestInput,
} from "../../api/index.js";
import type { LauncherTls } from "../launcher-client.js";

/** Where a launcher is: its pod IP and the VM whose certificate it serves. */
export interface LauncherAddress {
  podIP: string;
  namespace: string;
  vmName: string;
}

/**
 * The operator's side of the launcher migration endpoints (src/api/launcher-migration.ts),
 * over the same mutual TLS as the rest of the launcher API.
 */
export class MigrationLauncherClient {
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    private readonly tls: LauncherTls,
    private readonly opts: { port?: number; timeoutMs?: number } = {},
  ) {}

  async status(at: LauncherAddress): Promise<LauncherStatus> {
    return LauncherStatus.parse(await this.call(at, "GET", "/status"));
  }

  async state(at: LauncherAddress): Promise<LauncherMigrationState> {
    return LauncherMigrationState.parse(await this.call(at, "GET", MIGRATION_PATH));
  }

  /** Target: listen (idempotent) and say where to send the guest. */
  async listen(
    at: LauncherAddress,
    body: { postCopy: boolean; timeoutMs: number },
  ): Promise<IncomingAnswer> {
    // Setting up NBD exports takes a moment on a busy node.
    return IncomingAnswerSchema.parse(
      await this.call(at, "POST", MIGRATION_INCOMING_PATH, body, 15_000),
    );
  }

  /** Source: send the guest (idempotent for the same target address). */
  async send(at: LauncherAddress, body: MigrateRequestInput): Promise<LauncherMigrationState> {
    return LauncherMigrationState.parse(await this.call(at, "POST", MIGRATION_PATH, body));
  }

  async cancel(at: LauncherAddress): Promise<LauncherMigrationState> {
    // Cancelling waits for QEMU to wind the migration down.
    return LauncherMigrationState.parse(
      await this.call(at, "DELETE", MIGRATION_PATH, undefined, 30_000),
    );
  }

  close() {
    this.agent.destroy();
  }

  private call(
    at: LauncherAddress,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.opts.timeoutMs ?? 5000,
  ): Promise<unknown> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: at.podIP,
          port: this.opts.port ?? LAUNCHER_PORT,
          path,
          method,
          servername: launcherServerName(at.namespace, at.vmName),
          ca: this.tls.caPem,
          cert: this.tls.certPem,
          key: this.tls.keyPem,
          agent: this.agent,
          timeout: timeoutMs,
          headers: text
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(text) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const out = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(out ? JSON.parse(out) : undefined);
            else
              reject(new Error(`launcher ${at.podIP} ${method} ${path}: ${status} ${out.trim()}`));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`launcher ${at.podIP} ${path}: timed out`)));
      req.on("error", reject);
      req.end(text);
    });
  }
}
