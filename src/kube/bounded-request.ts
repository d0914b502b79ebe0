import http from "node:http";
import https from "node:https";

/**
 * One HTTP(S) request whose answer may not be trusted to end, or to end soon, or to be
 * small: a total deadline (an idle timeout alone lets a peer trickle a byte a second
 * forever) and a cap on the body, checked as it arrives, so a hostile or broken peer costs
 * at most `maxBytes` of memory and `deadlineMs` of a worker. Shared by the Kubernetes
 * client and the launcher client.
 */
export interface Bounds {
  /** The whole exchange — connect, send, headers, body — must be over by then. */
  deadlineMs: number;
  /** Largest body accepted; a longer one (by Content-Length or as it arrives) is cut off. */
  maxBytes: number;
}

/**
 * Why an exchange failed: `noAnswer` — nothing came back (no connection, or the deadline
 * passed before any answer); `deadline` — an answer started but did not finish in time;
 * `tooLarge`; `badAnswer` — broken mid-way, or (parseJsonBody) not JSON.
 */
export type BoundedFailure = "noAnswer" | "deadline" | "tooLarge" | "badAnswer";

export class BoundedRequestError extends Error {
  constructor(
    readonly failure: BoundedFailure,
    message: string,
  ) {
    super(message);
    this.name = "BoundedRequestError";
  }
}

export interface BoundedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function boundedRequest(
  url: URL | https.RequestOptions,
  options: https.RequestOptions,
  body: string | undefined,
  bounds: Bounds,
  what: string,
): Promise<BoundedResponse> {
  const secure = url instanceof URL ? url.protocol === "https:" : true;
  const transport = secure ? https : http;
  return new Promise<BoundedResponse>((resolve, reject) => {
    let answered = false;
    let settled = false;
    const fail = (err: BoundedRequestError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req =
      url instanceof URL
        ? transport.request(url, options, onResponse)
        : transport.request({ ...url, ...options }, onResponse);
    const timer = setTimeout(
      () =>
        fail(
          new BoundedRequestError(
            answered ? "deadline" : "noAnswer",
            `${what}: no complete answer within ${bounds.deadlineMs} ms`,
          ),
        ),
      bounds.deadlineMs,
    );
    function onResponse(res: http.IncomingMessage) {
      answered = true;
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > bounds.maxBytes) {
        fail(tooLarge(what, bounds.maxBytes));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > bounds.maxBytes) {
          fail(tooLarge(what, bounds.maxBytes));
          return;
        }
        chunks.push(c);
      });
      res.on("error", (err) =>
        fail(new BoundedRequestError("badAnswer", `${what}: ${err.message}`)),
      );
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    }
    req.on("error", (err) =>
      fail(new BoundedRequestError(answered ? "badAnswer" : "noAnswer", `${what}: ${err.message}`)),
    );
    req.end(body);
  });
}

const tooLarge = (what: string, max: number) =>
  new BoundedRequestError("tooLarge", `${what}: answer larger than ${max} bytes`);

/** JSON.parse that says what it could not read instead of throwing a SyntaxError. */
export function parseJsonBody(body: Buffer, what: string): unknown {
  const text = body.toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    const excerpt = text.slice(0, 80).replace(/\s+/g, " ");
    throw new BoundedRequestError("badAnswer", `${what}: answer is not JSON: ${excerpt}`);
  }
}
