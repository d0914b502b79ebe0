import { describe, expect, it } from "vitest";
import { authenticate, parseRequestHeaderConfig } from "../../../src/apiserver/auth.js";

const config = parseRequestHeaderConfig({
  "requestheader-client-ca-file": "PEM",
  "requestheader-allowed-names": '["front-proxy-client"]',
  "requestheader-username-headers": '["X-Remote-User"]',
  "requestheader-group-headers": '["X-Remote-Group"]',
  "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
});
const headers = {
  "x-remote-user": ["alice"],
  "x-remote-group": ["dev", "system:authenticated"],
  "x-remote-extra-scopes%2fa": ["x"],
};
const proxy = { verified: true, commonName: "front-proxy-client" };

describe("front-proxy authentication", () => {
  it("trusts the headers from a verified front proxy with an allowed name", () => {
    expect(authenticate(proxy, headers, config)).toEqual({
      ok: true,
      user: {
        name: "alice",
        groups: ["dev", "system:authenticated"],
        extra: { "scopes/a": ["x"] },
      },
    });
  });

  it("refuses forged headers without a client certificate", () => {
    expect(authenticate(undefined, headers, config)).toMatchObject({ ok: false });
  });

  it("refuses a certificate not signed by the request-header CA", () => {
    const r = authenticate({ verified: false, commonName: "front-proxy-client" }, headers, config);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/request-header CA/) });
  });

  it("refuses a CA-signed certificate whose CN is not allowed", () => {
    const r = authenticate({ verified: true, commonName: "mallory" }, headers, config);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/mallory/) });
  });

  it("accepts any CN when no names are configured", () => {
    const open = { ...config, allowedNames: [] };
    expect(authenticate({ verified: true, commonName: "x" }, headers, open).ok).toBe(true);
  });

  it("refuses a request without a user name", () => {
    expect(authenticate(proxy, {}, config)).toEqual({ ok: false, reason: "no user name header" });
  });

  it("needs the request-header CA in the ConfigMap", () => {
    expect(() => parseRequestHeaderConfig({})).toThrow(/requestheader-client-ca-file/);
  });
});
