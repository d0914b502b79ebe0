import { type Route, sendError } from "./http.js";

/**
 * The live-migration endpoints, all under /migrate, behind the same mutual TLS as the rest
 * of the API. This release only reserves them; the migration work fills them in:
 *   POST   /migrate           source: send the guest to a peer launcher (address, bandwidth,
 *                             downtime limit, auto-converge, post-copy)
 *   GET    /migrate           progress of the current migration (RAM transferred/remaining)
 *   DELETE /migrate           cancel it; the guest keeps running here
 *   POST   /migrate/incoming  target: listen for the incoming guest
 */
export const MIGRATION_PATH = "/migrate";

export function migrationRoutes(): Route[] {
  const notImplemented: Route["handler"] = (_req, res) =>
    sendError(res, 501, "live migration is not implemented in this release");
  return ["GET", "POST", "DELETE"].map((method) => ({
    method,
    path: MIGRATION_PATH,
    prefix: true,
    handler: notImplemented,
  }));
}
