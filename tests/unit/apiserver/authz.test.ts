import { describe, expect, it } from "vitest";
import { forbiddenMessage, subjectAccessReview } from "../../../src/apiserver/authz.js";

const user = { name: "bob", groups: ["system:authenticated"], extra: {} };
const attrs = {
  verb: "update",
  namespace: "default",
  name: "demo",
  subresource: "console",
} as const;

describe("delegated authorization", () => {
  it("asks about the subresource in the subresources group", () => {
    expect(subjectAccessReview(user, attrs)).toEqual({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: "bob",
        groups: ["system:authenticated"],
        resourceAttributes: {
          group: "subresources.kubevisor.io",
          version: "v1alpha1",
          resource: "virtualmachines",
          subresource: "console",
          verb: "update",
          namespace: "default",
          name: "demo",
        },
      },
    });
  });

  it("names the missing permission like the kube-apiserver does", () => {
    expect(forbiddenMessage(user, attrs)).toBe(
      'virtualmachines.subresources.kubevisor.io "demo" is forbidden: User "bob" cannot update resource "virtualmachines/console" in API group "subresources.kubevisor.io" in the namespace "default"',
    );
  });
});
