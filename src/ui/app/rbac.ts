/**
 * What the signed-in user may do, asked of the API server itself (SelfSubjectAccessReview),
 * so buttons are disabled with the reason instead of failing after a click. The API still
 * decides on every request: this only shapes the page.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "./api";

export interface Permission {
  allowed: boolean;
  /** Why not, in words a user can act on. */
  reason: string;
}

export interface Access {
  group: string;
  resource: string;
  subresource?: string;
  verb: string;
  namespace: string;
  name?: string;
}

export function describe(a: Access): string {
  const what = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return `${a.verb} on ${what}${a.group ? ` (${a.group})` : ""} in namespace ${a.namespace}`;
}

export async function canI(a: Access): Promise<Permission> {
  const review = await api<{ status?: { allowed?: boolean; reason?: string } }>(
    "POST",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { ...a } },
    },
  );
  const allowed = review.status?.allowed === true;
  return { allowed, reason: allowed ? "" : `Your role does not allow ${describe(a)}.` };
}

/** Permissions for a fixed set of checks, re-asked when the key changes. */
export function usePermissions<K extends string>(
  checks: Record<K, Access>,
  key: string,
): Record<K, Permission> | undefined {
  const [result, setResult] = useState<Record<K, Permission>>();
  useEffect(() => {
    let live = true;
    const entries = Object.entries(checks) as [K, Access][];
    Promise.all(
      entries.map(([k, a]) =>
        canI(a).then(
          (p) => [k, p] as const,
          (err: Error) =>
            [k, { allowed: false, reason: `Cannot check access: ${err.message}` }] as const,
        ),
      ),
    ).then((pairs) => {
      if (live) setResult(Object.fromEntries(pairs) as Record<K, Permission>);
    });
    return () => {
      live = false;
    };
  }, [key]);
  return result;
}
