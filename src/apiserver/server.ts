import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  SUBRESOURCE_KIND,
  SUBRESOURCES_APISERVICE,
  type VmAction,
  type VmGuestAction,
  type VmStream,
  type VmSubresource,
} from "../api/subresources.js";
import { isNotFound, KubeClient, paths } from "../kube/client.js";
import { CaStore, pollIntervalMs } from "../operator/certs/ca-store.js";
import { LeafKeeper, OPERATOR_CLIENT_REQUEST } from "../operator/certs/leaf-keeper.js";
import { type CertPolicy, DEFAULT_CERT_POLICY } from "../operator/certs/rotation.js";
import { LauncherClient } from "../operator/launcher-client.js";
import { type Logger, logger } from "../util/log.js";
import { execute, NOT_FOUND, planMigration, planStateChange, type VmView } from "./actions.js";
import {
  AUTH_CONFIGMAP,
  type AuthResult,
  authenticate,
  parseRequestHeaderConfig,
  type RequestHeaderConfig,
  type UserInfo,
} from "./auth.js";
import { type Attributes, authorize } from "./authz.js";
import {
  ConsoleSessions,
  connectLauncher,
  consoleMode,
  consoleServer,
  DEFAULT_CONSOLE_LIMITS,
  type LauncherTls,
  relay,
} from "./console.js";
import { guestAction, runningLauncher, screenshot } from "./guest.js";
import { route } from "./routes.js";
import { ensureCABundle, servingCertRequest } from "./serving-cert.js";
import { failure, refuseUpgrade, type Status, sendJson, sendStatus } from "./status.js";

export interface ApiServerOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the Service, the serving-certificate Secret and the operator CA. */
  namespace: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Service in front of the server: its DNS names go into the serving certificate. */
  service: string;
  /** APIService whose caBundle the server maintains; false leaves it alone. */
  apiService?: string | false;
  /**
   * Client certificate for launchers; default: one from the operator CA, renewed as the CA
   * Secret rotates (this server only reads it; the operator's leader rotates it).
   */
  launcherTls?: LauncherTls;
  /** Lifetimes, as the operator's (certs/rotation.ts). */
  certificates?: Partial<CertPolicy>;
  launcherPort?: number;
  /** How often the front-proxy settings are re-read (the CA can rotate); default 60 s. */
  authRefreshMs?: number;
  log?: Logger;
}

export interface RunningApiServer {
  port: number;
  /** The CA bundle at start (what the APIService's caBundle must hold). */
  caPem: string;
  close(): Promise<void>;
}

/** Body size cap of a PUT: migrate options are a few fields. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Starts the aggregated API server for subresources.kubevisor.io in this process. See
 * README.md for why it lives in the operator process and how it authenticates.
 */
export async function startApiServer(o: ApiServerOptions): Promise<RunningApiServer> {
  const log = o.log ?? logger("apiserver");
  const client = new KubeClient(o.kubeConfig);
  let auth = await readAuthConfig(client);
  // The operator CA, followed (the operator's leader rotates it); this replica's serving
  // and client certificates are its own, issued from it and renewed in memory.
  const certPolicy = { ...DEFAULT_CERT_POLICY, ...o.certificates };
  const caStore = await CaStore.open(client, o.namespace, certPolicy, log);
  const certPoll = pollIntervalMs(certPolicy);
  const stopCaStore = caStore.start(certPoll, () => false);
  const serving = await LeafKeeper.start(
    caStore,
    certPolicy,
    servingCertRequest(o.service, o.namespace),
    log,
    certPoll,
  );
  const apiService = o.apiService ?? SUBRESOURCES_APISERVICE;
  if (apiService !== false)
    await ensureCABundle(client, caStore.trust().bundlePem, log, apiService);
  const identity = o.launcherTls
    ? undefined
    : await LeafKeeper.start(caStore, certPolicy, OPERATOR_CLIENT_REQUEST, log, certPoll);
  const fixedTls = o.launcherTls;
  const launcherTls = (): LauncherTls => fixedTls ?? (identity as LeafKeeper).clientTls();

  const tlsOptions = (ca: string) => ({
    cert: serving.current().certPem,
    key: serving.current().keyPem,
    // Client certificates are checked against the request-header CA only, and not required:
    // discovery and health answer anyone; everything else needs a verified front proxy.
    ca,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2" as const,
  });
  // Console and VNC sessions are counted apart: a viewer left open never blocks a console.
  const sessions: Record<VmStream, ConsoleSessions> = {
    console: new ConsoleSessions(),
    vnc: new ConsoleSessions(),
    // One per TCP connection (a browser or ssh multiplexing opens several).
    portforward: new ConsoleSessions({ maxPerVm: 32, maxTotal: 256 }),
  };
  const wss = consoleServer();
  // TCP payloads come in socket-sized chunks (up to 64 KiB and a little framing): a larger cap.
  const tunnelLimits = { ...DEFAULT_CONSOLE_LIMITS, clientMaxPayload: 1024 * 1024 };
  const tunnelWss = consoleServer(tunnelLimits);
  const launchers = new LauncherClient(
    launcherTls,
    o.launcherPort === undefined ? {} : { port: o.launcherPort },
  );

  const identify = (req: IncomingMessage): AuthResult => {
    const socket = req.socket as TLSSocket;
    const cert = socket.getPeerCertificate();
    const cn = cert?.subject?.CN;
    const peer =
      cert && Object.keys(cert).length > 0
        ? { verified: socket.authorized, commonName: Array.isArray(cn) ? cn[0] : cn }
        : undefined;
    const result = authenticate(peer, req.headersDistinct, auth);
    if (!result.ok) log.info({ url: req.url, reason: result.reason }, "request not authenticated");
    return result;
  };

  /** Authenticate, authorize, read the VM: the steps every VM request takes. */
  const admit = async (
    req: IncomingMessage,
    target: { namespace: string; name: string; subresource: VmSubresource },
    verb: Attributes["verb"],
  ): Promise<{ user: UserInfo; vm: VmView } | Status> => {
    const who = identify(req);
    if (!who.ok) return failure(401, "Unauthorized");
    const decision = await authorize(client, who.user, { verb, ...target });
    if (!decision.allowed) {
      log.info(
        {
          user: who.user.name,
          verb,
          namespace: target.namespace,
          vm: target.name,
          subresource: target.subresource,
        },
        "request forbidden",
      );
      return failure(403, decision.message);
    }
    try {
      const vm = await client.get<VmView>(paths.vm(target.namespace, target.name));
      return { user: who.user, vm };
    } catch (err) {
      if (isNotFound(err)) return NOT_FOUND(target.name);
      throw err;
    }
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const r = route(req.url ?? "/");
    if (r.kind === "health") return sendText(res, 200, "ok");
    if (r.kind === "discovery") return sendJson(res, 200, r.body);
    if (r.kind === "notFound")
      return sendStatus(res, failure(404, "the server could not find the requested resource"));
    if (r.kind === "badRequest") {
      if (!identify(req).ok) return sendStatus(res, failure(401, "Unauthorized"));
      return sendStatus(res, failure(400, r.message));
    }
    const kind = SUBRESOURCE_KIND[r.subresource];
    if (kind === "stream") {
      // Checked after authentication so anonymous callers learn nothing beyond a 401.
      if (!identify(req).ok) return sendStatus(res, failure(401, "Unauthorized"));
      return sendStatus(
        res,
        failure(400, `${r.subresource} is a WebSocket: send an Upgrade request`),
      );
    }
    if (kind === "read") {
      if (req.method !== "GET")
        return sendStatus(
          res,
          failure(405, `${req.method} is not supported on ${r.subresource}; use GET`),
        );
      const admitted = await admit(req, r, "get");
      if ("code" in admitted) return sendStatus(res, admitted);
      const shot = await screenshot(launchers, admitted.vm);
      if ("code" in shot) return sendStatus(res, shot);
      res.writeHead(200, {
        "content-type": "image/png",
        "content-length": shot.png.length,
        "cache-control": "no-store",
      });
      res.end(shot.png);
      return;
    }
    if (req.method !== "PUT")
      return sendStatus(
        res,
        failure(405, `${req.method} is not supported on ${r.subresource}; use PUT`),
      );
    const admitted = await admit(req, r, "update");
    if ("code" in admitted) return sendStatus(res, admitted);
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (err) {
      return sendStatus(res, failure(400, (err as Error).message));
    }
    const status =
      kind === "guestAction"
        ? await guestAction(launchers, admitted.vm, r.subresource as VmGuestAction)
        : await execute(
            client,
            admitted.vm,
            r.subresource === "migrate"
              ? planMigration(admitted.vm, body, admitted.user)
              : planStateChange(
                  admitted.vm,
                  r.subresource as Exclude<VmAction, "migrate">,
                  new Date(),
                ),
          );
    log.info(
      {
        user: admitted.user.name,
        namespace: r.namespace,
        vm: r.name,
        action: r.subresource,
        code: status.code,
        message: status.message,
      },
      "action",
    );
    sendStatus(res, status);
  };

  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const r = route(req.url ?? "/");
    if (r.kind === "badRequest") {
      if (!identify(req).ok) return refuseUpgrade(socket, failure(401, "Unauthorized"));
      return refuseUpgrade(socket, failure(400, r.message));
    }
    if (r.kind !== "vm" || SUBRESOURCE_KIND[r.subresource] !== "stream")
      return refuseUpgrade(
        socket,
        failure(404, "only the console, vnc and portforward take a WebSocket"),
      );
    const stream = r.subresource as VmStream;
    // VNC has no watch mode: a viewer sends keys and pointer events.
    const mode = stream === "console" ? consoleMode(req.url ?? "/") : "interactive";
    const admitted = await admit(req, r, mode === "watch" ? "get" : "update");
    if ("code" in admitted) return refuseUpgrade(socket, admitted);
    const { vm, user } = admitted;
    const upstreamPath = stream === "portforward" ? `/portforward/${r.port}` : `/${stream}`;
    const at = runningLauncher(vm);
    if ("code" in at) return refuseUpgrade(socket, at);
    const { podIP } = at;
    const vmKey = `${r.namespace}/${r.name}`;
    const full = sessions[stream].enter(vmKey);
    if (full) return refuseUpgrade(socket, failure(429, full));
    let upstream: Awaited<ReturnType<typeof connectLauncher>>;
    try {
      upstream = await connectLauncher(
        { podIP, namespace: r.namespace, vmName: r.name, port: o.launcherPort },
        launcherTls(),
        undefined,
        upstreamPath,
      );
    } catch (err) {
      sessions[stream].leave(vmKey);
      log.warn(
        { namespace: r.namespace, vm: r.name, podIP, err },
        `launcher ${stream} unreachable`,
      );
      return refuseUpgrade(
        socket,
        failure(503, `cannot reach the ${stream} of VM ${r.name}: ${(err as Error).message}`),
      );
    }
    const tunnel = stream === "portforward";
    relay({
      wss: tunnel ? tunnelWss : wss,
      ...(tunnel ? { limits: tunnelLimits } : {}),
      req,
      socket,
      head,
      upstream,
      mode,
      vmKey,
      user,
      sessions: sessions[stream],
      log,
      what: stream,
      // Only a typing console session is one-at-a-time; viewers and tunnels coexist.
      exclusive: stream === "console" && mode === "interactive",
    });
  };

  const server: Server = createServer(tlsOptions(auth.clientCA), (req, res) => {
    onRequest(req, res).catch((err) => {
      log.error({ err, url: req.url }, "request failed");
      if (!res.headersSent) sendStatus(res, failure(500, (err as Error).message));
      else res.destroy();
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((err) => {
      log.error({ err, url: req.url }, "upgrade failed");
      refuseUpgrade(socket, failure(500, (err as Error).message));
    });
  });
  server.on("tlsClientError", (err) => log.debug({ err }, "TLS handshake failed"));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: o.host, port }, "aggregated API server listening");

  // A renewed serving certificate takes effect from the next handshake.
  serving.onRenewed(() => server.setSecureContext(tlsOptions(auth.clientCA)));
  // The front-proxy CA can rotate; follow it without a restart.
  const refresh = setInterval(() => {
    readAuthConfig(client).then(
      (next) => {
        if (next.clientCA !== auth.clientCA) {
          server.setSecureContext(tlsOptions(next.clientCA));
          log.info("front-proxy client CA changed; reloaded");
        }
        auth = next;
      },
      (err) => log.warn({ err }, "re-reading the front-proxy settings failed"),
    );
  }, o.authRefreshMs ?? 60_000);
  refresh.unref();

  return {
    port,
    caPem: caStore.trust().bundlePem,
    async close() {
      clearInterval(refresh);
      identity?.stop();
      serving.stop();
      stopCaStore();
      for (const ws of [...wss.clients, ...tunnelWss.clients]) ws.terminate();
      launchers.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      client.close();
      log.info("aggregated API server stopped");
    },
  };
}

async function readAuthConfig(client: KubeClient): Promise<RequestHeaderConfig> {
  const cm = await client.get<{ data?: Record<string, string> }>(
    `/api/v1/namespaces/${AUTH_CONFIGMAP.namespace}/configmaps/${AUTH_CONFIGMAP.name}`,
  );
  return parseRequestHeaderConfig(cm.data ?? {});
}

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { "content-type": "text/plain" });
  res.end(`${text}\n`);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error("request body is not JSON");
  }
}
