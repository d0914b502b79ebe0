import { useState } from "preact/hooks";
import { ApiError, api, token } from "./api";

interface Review {
  status?: { userInfo?: { username?: string } };
}

/** Cluster mode: the user's bearer token, checked with a SelfSubjectReview before use. */
export async function whoAmI(): Promise<string> {
  const r = await api<Review>("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    apiVersion: "authentication.k8s.io/v1",
    kind: "SelfSubjectReview",
  });
  return r.status?.userInfo?.username ?? "unknown user";
}

export function SignIn(props: { onSignedIn: (user: string) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    token.set(value.trim());
    try {
      props.onSignedIn(await whoAmI());
    } catch (err) {
      token.clear();
      setError(
        err instanceof ApiError && err.code === 401
          ? "The API server refused this token: it is wrong or has expired."
          : `Cannot sign in: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Kubevisor</h1>
      <form onSubmit={submit}>
        <label for="token">Kubernetes bearer token (ServiceAccount token or OIDC ID token)</label>
        <textarea
          id="token"
          rows={5}
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          required
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !value.trim()}>
          Sign in
        </button>
        <p class="hint">
          The token stays in this browser tab and is sent to the API server with every request; your
          RBAC decides what you can do.
        </p>
      </form>
    </main>
  );
}
