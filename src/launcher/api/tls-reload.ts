import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Server } from "node:https";
import { join } from "node:path";
import type { Logger } from "../../util/log.js";

/** The launcher's TLS material: its serving pair and the CA bundle it trusts for clients. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** Every certificate of the bundle (during a CA rotation: the old and the new CA). */
  ca: string[];
}

export async function readTlsFiles(dir: string): Promise<TlsFiles> {
  const [cert = "", key = "", ca = ""] = await Promise.all(
    ["tls.crt", "tls.key", "ca.crt"].map((f) => readFile(join(dir, f), "utf8")),
  );
  // One entry per certificate: a bundle whose PEM blocks are not newline-separated would
  // otherwise be misread as one broken certificate.
  return { cert, key, ca: ca.match(PEM_CERT) ?? [] };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Options every secure context of the API server carries. A fixed `sessionIdContext`:
 * with client certificates requested, OpenSSL refuses handshakes on a context without one,
 * and only the first context gets Node's default.
 */
export const SECURE_CONTEXT = {
  minVersion: "TLSv1.2",
  sessionIdContext: "kubevisor-launcher",
} as const;

const digest = (t: TlsFiles) =>
  createHash("sha256").update(t.cert).update(t.key).update(t.ca.join("\n")).digest("hex");

/**
 * Re-reads the Secret-mounted TLS files every `intervalMs` and swaps them into the server
 * when they changed (the kubelet updates a Secret volume in place, atomically), so renewed
 * certificates and a new CA bundle take effect without restarting the launcher or its
 * guest. Established connections keep the context they were made with. A half-written or
 * unparsable set is skipped and tried again at the next tick.
 */
export function watchTls(
  server: Server,
  dir: string,
  initial: TlsFiles,
  log: Logger,
  intervalMs = 10_000,
): () => void {
  let current = digest(initial);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void readTlsFiles(dir)
      .then((files) => {
        const next = digest(files);
        // Unchanged, or caught half-written (the kubelet swaps the set atomically; a copy
        // made otherwise may not be): look again at the next tick.
        if (next === current || !files.cert || !files.key || files.ca.length === 0) return;
        server.setSecureContext({ ...files, ...SECURE_CONTEXT });
        current = next;
        log.info("TLS certificates reloaded");
      })
      .catch((err: unknown) => log.warn({ err }, "TLS files unreadable; keeping the current ones"))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
