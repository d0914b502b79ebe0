import { useEffect, useRef, useState } from "preact/hooks";
import { stringify } from "yaml";
import { SUBRESOURCES_GROUP, type VmAction } from "../../api/subresources.js";
import type { VirtualMachine } from "../../api/virtualmachine.js";
import { api, watchList } from "./api";
import { ConsolePane } from "./console-pane";
import { oneVmPath, sub, vmPath } from "./paths";
import { type Access, type Permission, usePermissions } from "./rbac";
import { PhaseBadge, useNow } from "./vm-list";
import { Conditions, Events, LauncherPod, Migrations } from "./vm-parts";
import { VncPane } from "./vnc-pane";

const TABS = ["Overview", "YAML", "Console", "VNC"] as const;
type Tab = (typeof TABS)[number];
const ACTIONS: readonly VmAction[] = ["start", "stop", "restart", "migrate"];

function checks(namespace: string, name: string) {
  const on = (subresource: string, verb = "update"): Access => ({
    group: SUBRESOURCES_GROUP,
    resource: "virtualmachines",
    subresource,
    verb,
    namespace,
    name,
  });
  return {
    start: on("start"),
    stop: on("stop"),
    restart: on("restart"),
    migrate: on("migrate"),
    console: on("console"),
    consoleWatch: on("console", "get"),
    vnc: on("vnc", "get"),
    delete: { group: "kubevisor.io", resource: "virtualmachines", verb: "delete", namespace, name },
  } satisfies Record<string, Access>;
}

function clean(vm: VirtualMachine) {
  const { managedFields: _m, ...metadata } = vm.metadata as VirtualMachine["metadata"] & {
    managedFields?: unknown;
  };
  return { ...vm, metadata };
}

export function VmPage(props: { namespace: string; name: string }) {
  const { namespace, name } = props;
  const [vm, setVm] = useState<VirtualMachine | null>();
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [tab, setTab] = useState<Tab>("Overview");
  const [confirming, setConfirming] = useState(false);
  const now = useNow();
  useEffect(
    () =>
      watchList<VirtualMachine>(
        oneVmPath(namespace, name),
        (items) => {
          setError("");
          setVm(items[0] ?? null);
        },
        (e) => setError(e.message),
      ),
    [namespace, name],
  );
  const perms = usePermissions(checks(namespace, name), `${namespace}/${name}`);

  const act = async (action: VmAction) => {
    setNotice("");
    try {
      const status = await api<{ message?: string }>("PUT", sub(namespace, name, action), {});
      setNotice(status.message ?? `${action} requested`);
    } catch (err) {
      setNotice(`${action} failed: ${(err as Error).message}`);
    }
  };
  const remove = async () => {
    setConfirming(false);
    try {
      await api("DELETE", vmPath(namespace, name));
      setNotice(`VM ${name} is being deleted`);
    } catch (err) {
      setNotice(`delete failed: ${(err as Error).message}`);
    }
  };

  if (vm === undefined)
    return <main>{error ? <p class="error">{error}</p> : <p>Loading…</p>}</main>;
  if (vm === null)
    return (
      <main>
        <p>
          VM {namespace}/{name} does not exist (any more).{" "}
          <a href={`#/ns/${encodeURIComponent(namespace)}`}>Back to the list</a>
        </p>
      </main>
    );
  const s = vm.status;
  return (
    <main>
      <nav class="crumbs">
        <a href={`#/ns/${encodeURIComponent(namespace)}`}>{namespace}</a> / {name}
      </nav>
      <div class="toolbar">
        <h1>
          {name} <PhaseBadge phase={s?.phase} />
        </h1>
        <fieldset class="actions" aria-label="VM actions">
          {ACTIONS.map((a) => (
            <ActionButton key={a} label={a} perm={perms?.[a]} onClick={() => act(a)} />
          ))}
          <ActionButton
            label="delete"
            perm={perms?.delete}
            danger
            onClick={() => setConfirming(true)}
          />
        </fieldset>
      </div>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && <p class="error">{error}</p>}
      {confirming && (
        <ConfirmDelete name={name} onConfirm={remove} onCancel={() => setConfirming(false)} />
      )}
      <dl class="facts">
        <dt>Node</dt>
        <dd>{s?.nodeName ?? "—"}</dd>
        <dt>Accelerator</dt>
        <dd>
          {s?.acceleration ?? "—"}
          {s?.accelerationReason ? ` (${s.accelerationReason})` : ""}
        </dd>
        <dt>IP</dt>
        <dd>{s?.ipAddress ?? "—"}</dd>
        <dt>Guest OS</dt>
        <dd>
          {s?.guestOSInfo?.name ? `${s.guestOSInfo.name} ${s.guestOSInfo.version ?? ""}` : "—"}
        </dd>
      </dl>
      <div class="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={tab === t}
            class={tab === t ? "tab active" : "tab"}
            onClick={() => setTab(t)}
          >
            {t}
          </button>
        ))}
      </div>
      <section role="tabpanel" aria-label={tab}>
        {tab === "Overview" && (
          <>
            <h2>Conditions</h2>
            <Conditions vm={vm} />
            <h2>Launcher pod</h2>
            <LauncherPod namespace={namespace} name={s?.launcherPod} />
            <h2>Migrations</h2>
            <Migrations namespace={namespace} vmName={name} />
            <h2>Events</h2>
            <Events namespace={namespace} vmName={name} now={now} />
          </>
        )}
        {tab === "YAML" && <pre class="yaml">{stringify(clean(vm))}</pre>}
        {tab === "Console" && (
          <ConsolePane
            namespace={namespace}
            name={name}
            interactive={perms?.console}
            watch={perms?.consoleWatch}
          />
        )}
        {tab === "VNC" && <VncPane namespace={namespace} name={name} perm={perms?.vnc} />}
      </section>
    </main>
  );
}

function ActionButton(props: {
  label: string;
  perm?: Permission;
  danger?: boolean;
  onClick: () => void;
}) {
  const allowed = props.perm?.allowed === true;
  return (
    <button
      type="button"
      class={props.danger ? "danger" : ""}
      disabled={!allowed}
      title={props.perm ? props.perm.reason || props.label : "checking access…"}
      data-action={props.label}
      onClick={props.onClick}
    >
      {props.label[0]?.toUpperCase()}
      {props.label.slice(1)}
    </button>
  );
}

function ConfirmDelete(props: { name: string; onConfirm: () => void; onCancel: () => void }) {
  const [typed, setTyped] = useState("");
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => ref.current?.showModal(), []);
  return (
    <dialog ref={ref} onCancel={props.onCancel} aria-labelledby="confirm-title">
      <h2 id="confirm-title">Delete VM {props.name}?</h2>
      <p>
        The guest is stopped and its disks that live in the pod are lost. Type the VM's name to
        confirm.
      </p>
      <label for="confirm-name">VM name</label>
      <input
        id="confirm-name"
        value={typed}
        onInput={(e) => setTyped(e.currentTarget.value)}
        autoFocus
      />
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button
          type="button"
          class="danger"
          disabled={typed !== props.name}
          onClick={props.onConfirm}
        >
          Delete
        </button>
      </div>
    </dialog>
  );
}
