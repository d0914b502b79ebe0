import { describe, expect, it } from "vitest";
import { type SelftestObservation, selftestFailures } from "../../../src/operator/selftest.js";

const readyPod = { status: { conditions: [{ type: "Ready", status: "True" }] } };
const healthy: SelftestObservation = {
  deployment: { spec: { replicas: 2 }, status: { readyReplicas: 2 } },
  lease: { spec: { holderIdentity: "op-a" } },
  leaderPod: readyPod,
  discovery: { resources: [{ name: "virtualmachines/console" }] },
};

describe("helm test verdict (selftestFailures)", () => {
  it("passes a ready, led install whose aggregated API answers", () => {
    expect(selftestFailures(healthy, "kv-operator")).toEqual([]);
    const { discovery: _, ...noApiserver } = healthy;
    expect(selftestFailures(noApiserver, "kv-operator")).toEqual([]);
  });

  it("names each thing that is wrong", () => {
    expect(selftestFailures({}, "kv-operator")).toEqual([
      "Deployment kv-operator not found",
      "no operator holds the leader Lease kubevisor-operator",
    ]);
    expect(
      selftestFailures(
        {
          ...healthy,
          deployment: { status: {} },
          leaderPod: { status: { conditions: [{ type: "Ready", status: "False" }] } },
          discovery: new Error("503 service unavailable"),
        },
        "kv-operator",
      ),
    ).toEqual([
      "Deployment kv-operator has no ready replica",
      "the leader op-a is not a ready operator pod",
      "the aggregated API does not answer: 503 service unavailable",
    ]);
    expect(selftestFailures({ ...healthy, discovery: { resources: [] } }, "kv-operator")).toEqual([
      "the aggregated API answers without virtualmachines/console",
    ]);
  });
});
