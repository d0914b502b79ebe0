import { describe, expect, it } from "vitest";
import { LAUNCHER_CLIENT_CN } from "../../../src/api/launcher.js";
import { clientRefusal } from "../../../src/launcher/api/client-identity.js";
import { OPERATOR_CLIENT_NAME } from "../../../src/operator/ca.js";

describe("clientRefusal: the launcher API admits only the operator's identity", () => {
  it("admits the operator's client certificate CN", () => {
    expect(LAUNCHER_CLIENT_CN).toBe(OPERATOR_CLIENT_NAME);
    expect(clientRefusal({ subject: { CN: LAUNCHER_CLIENT_CN } as never })).toBeUndefined();
  });

  it.each([
    ["a launcher's serving certificate", "guest.tests.launcher.kubevisor.io"],
    ["a migration's source certificate", "source.u1.migration.kubevisor.io"],
    ["a look-alike", "kubevisor-operator-2"],
    ["a case variant", "Kubevisor-Operator"],
    ["an empty CN", ""],
  ])("refuses %s", (_, cn) => {
    expect(clientRefusal({ subject: { CN: cn } as never })).toMatch(/is not kubevisor-operator/);
  });

  it("refuses a subject with two CNs and a certificate without any", () => {
    expect(clientRefusal({ subject: { CN: ["kubevisor-operator", "x"] } as never })).toBeDefined();
    expect(clientRefusal({ subject: {} as never })).toBe("no client certificate");
    expect(clientRefusal(undefined)).toBe("no client certificate");
  });
});
