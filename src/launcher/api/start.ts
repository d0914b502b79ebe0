import type { Route } from "./http.js";
import { sendError, sendJson } from "./http.js";
import type { LauncherView } from "./view.js";

/**
 * POST /start: the operator's go-ahead to prepare disks and start QEMU (or wait for an
 * incoming migration). Behind the pinned mutual TLS like every API call. Idempotent: a
 * repeat answers 200 with `alreadyStarted`.
 */
export function startRoutes(view: LauncherView): Route[] {
  return [
    {
      method: "POST",
      path: "/start",
      handler: (_req, res) => {
        const result = view.start();
        if (result === "notGated") {
          return sendError(res, 409, "this launcher was not started with a start gate");
        }
        sendJson(res, 200, { started: true, alreadyStarted: result === "alreadyOpen" });
      },
    },
  ];
}
