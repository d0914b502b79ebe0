import {
  SUBRESOURCES_GROUP,
  SUBRESOURCES_VERSION,
  type VmSubresource,
} from "../api/subresources.js";
import type { KubeClient } from "../kube/client.js";
import type { UserInfo } from "./auth.js";

/**
 * Authorization by delegation: the kube-apiserver's authorizers (RBAC and whatever else the
 * cluster runs) decide, through a SubjectAccessReview, exactly as if the user had asked
 * Kubernetes itself. Needs the ClusterRole system:auth-delegator.
 */
export interface Attributes {
  verb: "get" | "update";
  namespace: string;
  name: string;
  subresource: VmSubresource;
}

interface SubjectAccessReviewStatus {
  allowed?: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/** Pure: the SubjectAccessReview asking whether `user` may do `attrs`. */
export function subjectAccessReview(user: UserInfo, attrs: Attributes) {
  return {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: user.name,
      ...(user.uid ? { uid: user.uid } : {}),
      groups: user.groups,
      ...(Object.keys(user.extra).length > 0 ? { extra: user.extra } : {}),
      resourceAttributes: {
        group: SUBRESOURCES_GROUP,
        version: SUBRESOURCES_VERSION,
        resource: "virtualmachines",
        subresource: attrs.subresource,
        verb: attrs.verb,
        namespace: attrs.namespace,
        name: attrs.name,
      },
    },
  };
}

/**
 * Pure: the message of a 403, worded as the kube-apiserver words its own, so it names the
 * permission to grant.
 */
export function forbiddenMessage(user: UserInfo, attrs: Attributes, reason?: string): string {
  const base = `virtualmachines.${SUBRESOURCES_GROUP} "${attrs.name}" is forbidden: User "${user.name}" cannot ${attrs.verb} resource "virtualmachines/${attrs.subresource}" in API group "${SUBRESOURCES_GROUP}" in the namespace "${attrs.namespace}"`;
  return reason ? `${base}: ${reason}` : base;
}

export type Decision = { allowed: true } | { allowed: false; message: string };

export async function authorize(
  client: KubeClient,
  user: UserInfo,
  attrs: Attributes,
): Promise<Decision> {
  const review = await client.create<{ status?: SubjectAccessReviewStatus }>(
    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    subjectAccessReview(user, attrs),
  );
  const status = review.status ?? {};
  if (status.allowed && !status.denied) return { allowed: true };
  return { allowed: false, message: forbiddenMessage(user, attrs, status.reason) };
}
