import { describe, expect, it } from "vitest";
import { route } from "../../../src/apiserver/routes.js";

const base = "/apis/subresources.kubevisor.io/v1alpha1";

describe("routes", () => {
  it("addresses a VM's subresources", () => {
    expect(route(`${base}/namespaces/default/virtualmachines/demo/console?mode=watch`)).toEqual({
      kind: "vm",
      namespace: "default",
      name: "demo",
      subresource: "console",
    });
    for (const sub of ["migrate", "vnc", "screenshot", "pause", "unpause"]) {
      expect(route(`${base}/namespaces/ns/virtualmachines/vm/${sub}`)).toMatchObject({
        subresource: sub,
      });
    }
  });

  it("takes a port after portforward only, and refuses one outside 1-65535 naming it", () => {
    expect(route(`${base}/namespaces/ns/virtualmachines/vm/portforward/22`)).toMatchObject({
      kind: "vm",
      subresource: "portforward",
      port: 22,
    });
    for (const bad of ["0", "65536", "ssh", "-1", "1e3"]) {
      expect(route(`${base}/namespaces/ns/virtualmachines/vm/portforward/${bad}`)).toEqual({
        kind: "badRequest",
        message: `port: "${bad}" is not a TCP port (1-65535)`,
      });
    }
    expect(route(`${base}/namespaces/ns/virtualmachines/vm/portforward`)).toMatchObject({
      kind: "badRequest",
    });
    expect(route(`${base}/namespaces/ns/virtualmachines/vm/vnc/22`).kind).toBe("notFound");
  });

  it("refuses unknown subresources and paths", () => {
    expect(route(`${base}/namespaces/ns/virtualmachines/vm/exec`).kind).toBe("notFound");
    expect(route("/api/v1/pods").kind).toBe("notFound");
  });

  it("serves discovery with the verbs the kube-apiserver derives", () => {
    const list = route(base);
    expect(list.kind).toBe("discovery");
    const resources = (list as { body: { resources: { name: string; verbs: string[] }[] } }).body
      .resources;
    expect(resources.map((r) => [r.name, r.verbs.join()])).toEqual([
      ["virtualmachines/console", "get"],
      ["virtualmachines/vnc", "get"],
      ["virtualmachines/portforward", "get"],
      ["virtualmachines/screenshot", "get"],
      ["virtualmachines/start", "update"],
      ["virtualmachines/stop", "update"],
      ["virtualmachines/restart", "update"],
      ["virtualmachines/migrate", "update"],
      ["virtualmachines/pause", "update"],
      ["virtualmachines/unpause", "update"],
    ]);
    expect(route("/apis")).toMatchObject({ body: { kind: "APIGroupList" } });
    expect(route("/apis/subresources.kubevisor.io")).toMatchObject({ body: { kind: "APIGroup" } });
    expect(route("/healthz")).toEqual({ kind: "health", check: "healthz" });
  });
});
