import { describe, expect, it } from "vitest";
import { SESSION_COOKIE, UI_HEADER } from "../../../src/ui/protocol.js";
import {
  checkLocal,
  checkOrigin,
  cookieValue,
  loopbackHosts,
  type RequestFacts,
  splitBearerProtocol,
} from "../../../src/ui/server/guard.js";
import { upstreamPath } from "../../../src/ui/server/proxy.js";

const HOSTS = loopbackHosts(8001);
const SESSION = "s3cret-session";
const ok: RequestFacts = {
  method: "GET",
  host: "127.0.0.1:8001",
  origin: undefined,
  cookie: `other=1; ${SESSION_COOKIE}=${SESSION}`,
  uiHeader: undefined,
  upgrade: false,
};

describe("local mode guard", () => {
  it("lets the session's own page read and write", () => {
    expect(checkLocal(ok, HOSTS, SESSION)).toEqual({ ok: true });
    const write = { ...ok, method: "PUT", origin: "http://127.0.0.1:8001", uiHeader: "1" };
    expect(checkLocal(write, HOSTS, SESSION)).toEqual({ ok: true });
    const ws = { ...ok, upgrade: true, origin: "http://127.0.0.1:8001" };
    expect(checkLocal(ws, HOSTS, SESSION)).toEqual({ ok: true });
  });
  it("refuses another local user without the session cookie", () => {
    expect(checkLocal({ ...ok, cookie: undefined }, HOSTS, SESSION)).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(checkLocal({ ...ok, cookie: `${SESSION_COOKIE}=guess` }, HOSTS, SESSION)).toMatchObject({
      ok: false,
      status: 401,
    });
  });
  it("refuses a DNS-rebinding page (foreign Host) even with the cookie", () => {
    expect(checkLocal({ ...ok, host: "evil.example:8001" }, HOSTS, SESSION)).toMatchObject({
      ok: false,
      status: 403,
    });
  });
  it("refuses cross-site writes and WebSockets", () => {
    const cross = { ...ok, method: "POST", origin: "https://evil.example", uiHeader: "1" };
    expect(checkLocal(cross, HOSTS, SESSION)).toMatchObject({ ok: false, status: 403 });
    const ws = { ...ok, upgrade: true, origin: "https://evil.example" };
    expect(checkLocal(ws, HOSTS, SESSION)).toMatchObject({ ok: false, status: 403 });
    // A same-origin form post cannot add the custom header.
    const form = { ...ok, method: "POST", origin: "http://127.0.0.1:8001" };
    expect(checkLocal(form, HOSTS, SESSION)).toMatchObject({ ok: false, status: 403 });
    expect(checkLocal({ ...form, uiHeader: "1" }, HOSTS, SESSION)).toEqual({ ok: true });
  });
});

describe("cluster mode origin rules", () => {
  it("reads from anywhere, writes only from our origin with the header", () => {
    const host = "ui.example";
    expect(checkOrigin({ ...ok, host, cookie: undefined })).toEqual({ ok: true });
    expect(
      checkOrigin({ ...ok, host, method: "DELETE", origin: "https://ui.example", uiHeader: "1" }),
    ).toEqual({ ok: true });
    expect(
      checkOrigin({
        ...ok,
        host,
        method: "DELETE",
        origin: "https://other.example",
        uiHeader: "1",
      }),
    ).toMatchObject({ ok: false });
  });
});

describe("helpers", () => {
  it("reads one cookie", () => {
    expect(cookieValue("a=1; b=2", "b")).toBe("2");
    expect(cookieValue(undefined, "b")).toBeUndefined();
  });
  it("takes the bearer token out of the WebSocket protocols", () => {
    const b64 = Buffer.from("tok.en").toString("base64url");
    expect(
      splitBearerProtocol(`kubevisor.ui, base64url.bearer.authorization.k8s.io.${b64}, v5`),
    ).toEqual({ token: "tok.en", protocols: ["v5"] });
    expect(splitBearerProtocol(undefined)).toEqual({ protocols: [] });
  });
  it("forwards only API paths", () => {
    expect(
      upstreamPath("/k8s/apis/kubevisor.io/v1alpha1/namespaces/a/virtualmachines?watch=1", "/k8s"),
    ).toBe("/apis/kubevisor.io/v1alpha1/namespaces/a/virtualmachines?watch=1");
    expect(upstreamPath("/k8s/api/v1/pods", "/k8s")).toBe("/api/v1/pods");
    expect(upstreamPath("/k8s/../etc/passwd", "/k8s")).toBeUndefined();
    expect(upstreamPath("/k8s/logs/x", "/k8s")).toBeUndefined();
    expect(upstreamPath("/k8s/api/../../metrics", "/k8s")).toBeUndefined();
    expect(upstreamPath("/app.js", "/k8s")).toBeUndefined();
  });
  it(`names the CSRF header ${UI_HEADER}`, () => expect(UI_HEADER).toMatch(/^x-/));
});
