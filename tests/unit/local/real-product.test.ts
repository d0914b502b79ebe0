import { describe, expect, it } from "vitest";
import { KVM_RESOURCE } from "../../../src/api/index.js";
import { nodesWithoutKvm, REAL_NODES_HELM_VALUES } from "../../../src/local/product.js";

const node = (name: string, allocatable: Record<string, string> = {}) => ({
  metadata: { name },
  status: { allocatable },
});

describe("the product on real nodes", () => {
  it("turns the node agent on (the device plugin for /dev/kvm)", () => {
    expect(REAL_NODES_HELM_VALUES).toEqual({ "nodeAgent.enabled": "true" });
  });

  it("names the nodes that do not offer the KVM device yet", () => {
    const nodes = [
      node("a", { [KVM_RESOURCE]: "110" }),
      node("b", { [KVM_RESOURCE]: "0" }),
      node("c", { cpu: "2" }),
    ];
    expect(nodesWithoutKvm(nodes, ["a", "b", "c", "gone"])).toEqual(["b", "c", "gone"]);
    expect(nodesWithoutKvm(nodes, ["a"])).toEqual([]);
  });
});
