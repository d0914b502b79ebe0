import { ScreenshotError } from "../../vmm/screen.js";
import { GuestStateError } from "../guest.js";
import { type Handler, type Route, sendError, sendJson } from "./http.js";
import type { GuestControl, LauncherView } from "./view.js";

export const PAUSE_PATH = "/pause";
export const UNPAUSE_PATH = "/unpause";
export const SCREENSHOT_PATH = "/screenshot";

/**
 *   POST /pause       QMP stop: the guest's vCPUs halt; 200 {paused: true}; idempotent
 *   POST /unpause     QMP cont; 200 {paused: false}; idempotent
 *   GET  /screenshot  image/png of the display (QMP screendump), size-capped
 * 409 when the guest's state does not allow it (not running here, migrating, no display).
 */
export function guestControlRoutes(view: LauncherView): Route[] {
  const withGuest =
    (fn: (g: GuestControl, res: Parameters<Handler>[1]) => Promise<void>): Handler =>
    async (_req, res) => {
      const guest = view.guestControl();
      if (!guest) return sendError(res, 503, "the launcher is still starting");
      try {
        await fn(guest, res);
      } catch (err) {
        if (err instanceof GuestStateError) return sendError(res, 409, err.message);
        if (err instanceof ScreenshotError) return sendError(res, 502, err.message);
        throw err;
      }
    };
  return [
    {
      method: "POST",
      path: PAUSE_PATH,
      handler: withGuest(async (g, res) => {
        await g.pause();
        sendJson(res, 200, { paused: true });
      }),
    },
    {
      method: "POST",
      path: UNPAUSE_PATH,
      handler: withGuest(async (g, res) => {
        await g.unpause();
        sendJson(res, 200, { paused: false });
      }),
    },
    {
      method: "GET",
      path: SCREENSHOT_PATH,
      handler: withGuest(async (g, res) => {
        const png = await g.screenshot();
        res.writeHead(200, {
          "content-type": "image/png",
          "content-length": png.length,
          "cache-control": "no-store",
        });
        res.end(png);
      }),
    },
  ];
}
