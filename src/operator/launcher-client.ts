import https from "node:https";
import { LAUNCHER_PORT, LauncherStatus, launcherServerName } from "../api/index.js";

export interface LauncherTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * The operator's side of the launcher API: mutual TLS to the pod IP, checking the
 * launcher's certificate against the operator CA under the VM's launcher server name
 * (pod IPs are not known when the certificate is issued).
 */
export class LauncherClient {
  private readonly agent: https.Agent;

  constructor(
    private readonly tls: LauncherTls,
    private readonly opts: { timeoutMs?: number; port?: number } = {},
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  }

  async status(podIP: string, namespace: string, vmName: string): Promise<LauncherStatus> {
    const body = await this.get(podIP, launcherServerName(namespace, vmName), "/status");
    return LauncherStatus.parse(JSON.parse(body));
  }

  private get(host: string, servername: string, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host,
          port: this.opts.port ?? LAUNCHER_PORT,
          path,
          method: "GET",
          servername,
          ca: this.tls.caPem,
          cert: this.tls.certPem,
          key: this.tls.keyPem,
          agent: this.agent,
          timeout: this.opts.timeoutMs ?? 3000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode === 200) resolve(text);
            else
              reject(
                new Error(`launcher ${host} ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`),
              );
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`launcher ${host} ${path}: timed out`)));
      req.on("error", reject);
      req.end();
    });
  }

  close() {
    this.agent.destroy();
  }
}
