import { stringify } from "yaml";

export interface KubeconfigInput {
  /** Used for the cluster, user and context names. */
  name: string;
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  user: string;
}

/**
 * A kubeconfig with the certificates embedded, so it keeps working when copied elsewhere
 * (into a container's env, another shell) and never points at files that may move.
 */
export function renderKubeconfig(k: KubeconfigInput): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: k.name, cluster: { server: k.server, "certificate-authority-data": b64(k.caPem) } },
    ],
    users: [
      {
        name: k.user,
        user: {
          "client-certificate-data": b64(k.certPem),
          "client-key-data": b64(k.keyPem),
        },
      },
    ],
    contexts: [{ name: k.name, context: { cluster: k.name, user: k.user } }],
    "current-context": k.name,
    preferences: {},
  });
}
