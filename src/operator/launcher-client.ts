import https from "node:https";
import { LAUNCHER_PORT, LauncherStatus, launcherServerName } from "../api/index.js";

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
 * The operator's side of the launcher API: mutual TLS to the pod IP, checking the
 * launcher's certificate against the operator CA under the VM's launcher server name
 * (pod IPs are not known when the certificate is issued).
 */
export class LauncherClient {
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    private readonly tls: LauncherTls,
    private readonly opts: { timeoutMs?: number; port?: number } = {},
  ) {}

  async status(at: LauncherAddress): Promise<LauncherStatus> {
    return LauncherStatus.parse(await this.call(at, "GET", "/status", undefined, 3000));
  }

  /** One JSON request; rejects on any non-2xx answer with the launcher's own words. */
  call(
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

  close() {
    this.agent.destroy();
  }
}
