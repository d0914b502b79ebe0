/**
 * The contract between the UI server (./server) and the app (./app): pure constants, so the
 * browser bundle never pulls in server code.
 */

/** Prefix under which the app reaches the Kubernetes API through the UI server. */
export const API_PREFIX = "/k8s";
export const SESSION_COOKIE = "kv_ui_session";
/** Custom request header the app sends on every API call (a CSRF guard, not a secret). */
export const UI_HEADER = "x-kubevisor-ui";
/**
 * Kubernetes accepts a bearer token in the WebSocket subprotocol list (browsers cannot set
 * Authorization on a WebSocket); the cluster-mode app uses that form and the server turns it
 * back into a header.
 */
export const BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io.";
/**
 * The app always offers this subprotocol and the UI server answers with it: a browser that
 * offered protocols fails the handshake unless one is selected, and the upstream (console,
 * VNC) selects none.
 */
export const UI_PROTOCOL = "kubevisor.ui";
