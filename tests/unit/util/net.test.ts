import { describe, expect, it } from "vitest";
import { launcherConsoleUrl } from "../../../src/apiserver/console.js";
import { hostPort } from "../../../src/util/net.js";

describe("addresses in URLs", () => {
  it("brackets IPv6 and leaves IPv4 and names alone", () => {
    expect(hostPort("fd00::5", 8443)).toBe("[fd00::5]:8443");
    expect(hostPort("10.0.0.5", 8443)).toBe("10.0.0.5:8443");
    expect(hostPort("launcher.local", "80")).toBe("launcher.local:80");
  });

  it("builds the launcher console URL for IPv6 pods (the apiserver's relay)", () => {
    expect(launcherConsoleUrl({ podIP: "fd00::5" })).toBe("wss://[fd00::5]:8443/console");
    expect(new URL(launcherConsoleUrl({ podIP: "fd00::5" })).hostname).toBe("[fd00::5]");
    expect(launcherConsoleUrl({ podIP: "10.1.2.3", port: 9 })).toBe("wss://10.1.2.3:9/console");
  });
});
