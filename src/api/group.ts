/** The API group and version of our CRDs: plain constants, importable without zod (the web UI). */
export const GROUP = "kubevisor.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
