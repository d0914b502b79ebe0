/** The Kubevisor web UI: a hash-routed single-page app (see src/ui/README.md). */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type AppConfig, api, setMode, token } from "./api";
import { CreateVm } from "./create";
import { namespacesPath } from "./paths";
import { parseRoute } from "./route";
import { SignIn, whoAmI } from "./signin";
import { VmList } from "./vm-list";
import { VmPage } from "./vm-page";

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function NamespacePicker(props: { current: string }) {
  const [names, setNames] = useState<string[]>([]);
  const [value, setValue] = useState(props.current);
  useEffect(() => setValue(props.current), [props.current]);
  useEffect(() => {
    // Listing namespaces needs a cluster-wide right many users lack: typing one still works.
    api<{ items: { metadata: { name: string } }[] }>("GET", namespacesPath).then(
      (l) => setNames(l.items.map((i) => i.metadata.name)),
      () => setNames([]),
    );
  }, []);
  const go = (e: Event) => {
    e.preventDefault();
    if (value.trim()) location.hash = `#/ns/${encodeURIComponent(value.trim())}`;
  };
  return (
    <form class="ns" onSubmit={go}>
      <label for="namespace">Namespace</label>
      <input
        id="namespace"
        list="namespaces"
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
        onChange={go}
      />
      <datalist id="namespaces">
        {names.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
    </form>
  );
}

function App() {
  const [config, setConfig] = useState<AppConfig>();
  const [user, setUser] = useState<string>();
  const [error, setError] = useState("");
  const hash = useHash();
  useEffect(() => {
    fetch("/config.json")
      .then((r) =>
        r.ok ? (r.json() as Promise<AppConfig>) : Promise.reject(new Error(`HTTP ${r.status}`)),
      )
      .then((c) => {
        setMode(c.mode);
        setConfig(c);
        if (c.mode === "local") return setUser("");
        if (token.get()) whoAmI().then(setUser, () => token.clear());
      })
      .catch((e: Error) => setError(`Cannot load the UI's settings: ${e.message}`));
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!config) return <p>Loading…</p>;
  if (user === undefined)
    return config.mode === "cluster" ? <SignIn onSignedIn={setUser} /> : <p>Loading…</p>;
  const route = parseRoute(hash, config.namespace);
  const signOut = () => {
    token.clear();
    setUser(undefined);
  };
  return (
    <>
      <header>
        <a class="brand" href={`#/ns/${encodeURIComponent(route.namespace)}`}>
          Kubevisor
        </a>
        <NamespacePicker current={route.namespace} />
        {config.mode === "cluster" && (
          <span class="user">
            {user}{" "}
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </span>
        )}
      </header>
      {route.page === "list" && <VmList namespace={route.namespace} />}
      {route.page === "vm" && (
        <VmPage
          key={`${route.namespace}/${route.name}`}
          namespace={route.namespace}
          name={route.name}
        />
      )}
      {route.page === "create" && <CreateVm namespace={route.namespace} />}
    </>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
