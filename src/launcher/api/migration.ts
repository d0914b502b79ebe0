import type { IncomingMessage } from "node:http";
import type { z } from "zod";
import {
  IncomingRequest,
  MIGRATION_INCOMING_PATH,
  MIGRATION_PATH,
  MigrateRequest,
} from "../../api/launcher-migration.js";
import { type MigrationControl, MigrationRefused } from "../migration/control.js";
import { type Handler, type Route, sendError, sendJson } from "./http.js";

/** Requests are a few hundred bytes; anything far larger is not one of ours. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The live-migration endpoints (contract in src/api/launcher-migration.ts), behind the same
 * mutual TLS as the rest of the API:
 *   POST   /migrate/incoming  target: listen for the guest; answers where to send it
 *   POST   /migrate           source: send the guest there (202, then poll GET)
 *   GET    /migrate           progress and outcome, on either side
 *   DELETE /migrate           source: cancel; the guest keeps running here
 */
export function migrationRoutes(control: () => MigrationControl | undefined): Route[] {
  const withControl =
    (fn: (c: MigrationControl, req: IncomingMessage) => Promise<[number, unknown]>): Handler =>
    async (req, res) => {
      const c = control();
      if (!c) return sendError(res, 503, "the launcher is still starting");
      try {
        const [status, body] = await fn(c, req);
        sendJson(res, status, body);
      } catch (err) {
        if (err instanceof MigrationRefused) return sendError(res, err.status, err.message);
        if (err instanceof BadRequest) return sendError(res, 400, err.message);
        throw err;
      }
    };
  return [
    {
      method: "POST",
      path: MIGRATION_INCOMING_PATH,
      handler: withControl(async (c, req) => {
        c.checkMayListen();
        return [200, await c.incoming(await readBody(req, IncomingRequest))];
      }),
    },
    {
      method: "POST",
      path: MIGRATION_PATH,
      handler: withControl(async (c, req) => [202, c.start(await readBody(req, MigrateRequest))]),
    },
    { method: "GET", path: MIGRATION_PATH, handler: withControl(async (c) => [200, c.state()]) },
    {
      method: "DELETE",
      path: MIGRATION_PATH,
      handler: withControl(async (c) => [200, await c.cancel()]),
    },
  ];
}

class BadRequest extends Error {}

async function readBody<T extends z.ZodType>(req: IncomingMessage, schema: T): Promise<z.infer<T>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest("request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new BadRequest("request body is not JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new BadRequest(
      parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; "),
    );
  }
  return parsed.data;
}
