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
