import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/**
 * metav1.Status, the body every Kubernetes client (kubectl, client-node, kubectl-vm) knows how
 * to turn into an error message.
 */
export interface Status {
  apiVersion: "v1";
  kind: "Status";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  code: number;
  reason?: string;
  message: string;
  details?: { name?: string; group?: string; kind?: string };
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

const TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function failure(code: number, message: string, details?: Status["details"]): Status {
  return {
    apiVersion: "v1",
    kind: "Status",
    metadata: {},
    status: "Failure",
    code,
    reason: REASONS[code] ?? "Unknown",
    message,
    ...(details ? { details } : {}),
  };
}

export function success(message: string, details?: Status["details"]): Status {
  return {
    apiVersion: "v1",
    kind: "Status",
    metadata: {},
    status: "Success",
    code: 200,
    message,
    ...(details ? { details } : {}),
  };
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  sendJson(res, status.code, status);
}

/** Refuse a WebSocket upgrade with a Status body, before any WebSocket exists. */
export function refuseUpgrade(socket: Duplex, status: Status): void {
  const body = JSON.stringify(status);
  socket.end(
    `HTTP/1.1 ${status.code} ${TEXT[status.code] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
