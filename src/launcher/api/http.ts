import type { IncomingMessage, ServerResponse } from "node:http";

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A route matches a method and either an exact path or, with `prefix`, a whole subtree. */
export interface Route {
  method: string;
  path: string;
  prefix?: boolean;
  handler: Handler;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { message });
}

function matches(route: Route, path: string): boolean {
  return route.prefix
    ? path === route.path || path.startsWith(`${route.path}/`)
    : path === route.path;
}

/** Dispatch to the first route whose path matches; 404 for no path, 405 for a wrong method. */
export function router(routes: Route[]): Handler {
  return async (req, res) => {
    const path = new URL(req.url ?? "/", "http://launcher").pathname;
    const candidates = routes.filter((r) => matches(r, path));
    if (candidates.length === 0) return sendError(res, 404, `no such endpoint: ${path}`);
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      res.setHeader("allow", [...new Set(candidates.map((r) => r.method))].join(", "));
      return sendError(res, 405, `${req.method} not allowed on ${path}`);
    }
    await route.handler(req, res);
  };
}
