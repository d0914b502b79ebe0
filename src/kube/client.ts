import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  GROUP,
  VERSION,
  VirtualMachineMigrationResource,
  VirtualMachineResource,
} from "../api/index.js";
import { type BoundedResponse, boundedRequest, parseJsonBody } from "./bounded-request.js";

/**
 * A small JSON client for the Kubernetes API. The generated typed clients turn timestamps
 * into Date objects while watch events carry strings; the operator's caches mix both, so
 * it speaks plain JSON everywhere, and gets merge patches with resourceVersion
 * preconditions, raw status codes and keep-alive connections on the way.
 */

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export const isNotFound = (e: unknown) => e instanceof KubeError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof KubeError && e.status === 409;
export const isAlreadyExists = (e: unknown) =>
  e instanceof KubeError && e.status === 409 && e.reason === "AlreadyExists";

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Defaults to JSON; e.g. METADATA_ONLY to receive an object's metadata and nothing else. */
  accept?: string;
  body?: unknown;
  /** Defaults to JSON; patches pass application/merge-patch+json and friends. */
  contentType?: string;
  /** Total deadline of the call (default 30 s). */
  timeoutMs?: number;
  /** Largest answer accepted (default MAX_OBJECT_BYTES; lists MAX_LIST_BYTES). */
  maxBytes?: number;
}

/** etcd keeps objects under 1.5 MiB; anything far above is not an answer we asked for. */
export const MAX_OBJECT_BYTES = 16 * 1024 * 1024;
/** Lists are not paginated yet; this bounds what one can cost. */
export const MAX_LIST_BYTES = 256 * 1024 * 1024;
export const DEFAULT_DEADLINE_MS = 30_000;

export const MERGE_PATCH = "application/merge-patch+json";

export interface KubeList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/**
 * Accept header asking the apiserver for a PartialObjectMetadata: the object's metadata
 * only (for a Secret: that it exists, without its data ever leaving the apiserver).
 */
export const METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

export class KubeClient {
  private readonly server: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;

  constructor(
    readonly kubeConfig: KubeConfig,
    opts: { maxSockets?: number; timeoutMs?: number } = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DEADLINE_MS;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 32 };
    this.agent =
      this.server.protocol === "https:"
        ? new https.Agent(agentOptions)
        : new http.Agent(agentOptions);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server.pathname.replace(/\/$/, "") + path, this.server);
    for (const [key, value] of Object.entries(opts.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    // Credentials (a rotating service-account token, client certificates) come from the
    // kubeconfig per request; the connection pool is ours.
    const options: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string | number> = {
      ...(options.headers as Record<string, string>),
      accept: opts.accept ?? "application/json",
    };
    if (body !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = Buffer.byteLength(body);
    }
    const res: BoundedResponse = await boundedRequest(
      url,
      {
        method,
        headers,
        agent: this.agent,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        rejectUnauthorized: options.rejectUnauthorized,
        servername: options.servername,
      },
      body,
      {
        deadlineMs: opts.timeoutMs ?? this.timeoutMs,
        maxBytes: opts.maxBytes ?? MAX_OBJECT_BYTES,
      },
      `${method} ${path}`,
    );
    if (res.status >= 200 && res.status < 300)
      return parseJsonBody(res.body, `${method} ${path}`) as T;
    throw toKubeError(res.status, res.body.toString("utf8"), method, path);
  }

  get<T>(path: string, query?: RequestOptions["query"]) {
    return this.request<T>("GET", path, { query });
  }

  list<T>(path: string, query?: RequestOptions["query"]) {
    return this.request<KubeList<T>>("GET", path, { query, maxBytes: MAX_LIST_BYTES });
  }

  create<T>(path: string, body: unknown) {
    return this.request<T>("POST", path, { body });
  }

  mergePatch<T>(path: string, body: unknown) {
    return this.request<T>("PATCH", path, { body, contentType: MERGE_PATCH });
  }

  delete<T>(path: string, body?: unknown) {
    return this.request<T>("DELETE", path, { body });
  }

  close() {
    this.agent.destroy();
  }
}

function toKubeError(status: number, text: string, method: string, path: string): KubeError {
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeError(
      status,
      parsed.reason ?? "",
      `${method} ${path}: ${status} ${parsed.message ?? text}`,
    );
  } catch {
    return new KubeError(status, "", `${method} ${path}: ${status} ${text.slice(0, 200)}`);
  }
}

const custom = (group: string, version: string, plural: string, ns?: string, name?: string) =>
  `/apis/${group}/${version}${ns ? `/namespaces/${ns}` : ""}/${plural}${name ? `/${name}` : ""}`;

/** API paths, so no caller concatenates them by hand. */
export const paths = {
  pods: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/pods` : "/api/v1/pods"),
  pod: (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}`,
  nodes: () => "/api/v1/nodes",
  secrets: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/secrets` : "/api/v1/secrets"),
  secret: (ns: string, name: string) => `/api/v1/namespaces/${ns}/secrets/${name}`,
  events: (ns: string) => `/api/v1/namespaces/${ns}/events`,
  event: (ns: string, name: string) => `/api/v1/namespaces/${ns}/events/${name}`,
  pdbs: (ns?: string) =>
    ns
      ? `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`
      : "/apis/policy/v1/poddisruptionbudgets",
  pdb: (ns: string, name: string) =>
    `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`,
  networkPolicies: (ns: string) => `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`,
  lease: (ns: string, name: string) =>
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  custom,
  vm: (ns: string, name: string) => custom(GROUP, VERSION, VirtualMachineResource.plural, ns, name),
  migration: (ns: string, name: string) =>
    custom(GROUP, VERSION, VirtualMachineMigrationResource.plural, ns, name),
};
