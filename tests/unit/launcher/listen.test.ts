import { describe, expect, it } from "vitest";
import {
  apiListenHosts,
  guestForwardHost,
  isLoopback,
  listenScope,
} from "../../../src/launcher/listen.js";

describe("launcher listeners", () => {
  it("bind every address of a pod with its own network (real kubelet), IPv4 or IPv6", () => {
    for (const ip of ["10.244.1.7", "fd00::5", "2001:db8::1"]) {
      expect(listenScope(ip), ip).toBe("pod");
      // Probes and the operator dial the pod IP; kubectl port-forward dials localhost.
      expect(apiListenHosts(ip), ip).toEqual(["::", "0.0.0.0"]);
      // QEMU forwards from loopback only; the launcher relays the pod's ports to it.
      expect(guestForwardHost(ip), ip).toBe("127.0.0.1");
    }
  });

  it("bind only the pod IP on the stand-in, whose pods share the host's network", () => {
    for (const ip of ["127.1.0.5", "::1", "::ffff:127.1.0.9"]) {
      expect(listenScope(ip), ip).toBe("podIP");
      expect(apiListenHosts(ip), ip).toEqual([ip]);
    }
    expect(guestForwardHost("127.1.0.5")).toBe("127.1.0.5");
    // QEMU's hostfwd takes IPv4 only.
    expect(guestForwardHost("::1")).toBe("127.0.0.1");
  });

  it("recognises loopback in every spelling", () => {
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("0:0:0:0:0:0:0:1")).toBe(true);
    expect(isLoopback("::ffff:127.0.0.1")).toBe(true);
    expect(isLoopback("128.0.0.1")).toBe(false);
    expect(isLoopback("fe80::1")).toBe(false);
    expect(isLoopback("not-an-ip")).toBe(false);
  });
});
