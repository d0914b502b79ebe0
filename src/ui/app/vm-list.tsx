import { useEffect, useState } from "preact/hooks";
import type { VirtualMachine } from "../../api/virtualmachine.js";
import { watchList } from "./api";
import { age } from "./format";
import { vmsPath } from "./paths";
import { type Access, usePermissions } from "./rbac";

export function PhaseBadge(props: { phase?: string }) {
  const phase = props.phase ?? "Pending";
  return <span class={`phase phase-${phase.toLowerCase()}`}>{phase}</span>;
}

/** Re-renders every few seconds so AGE columns stay true. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function VmList(props: { namespace: string }) {
  const [vms, setVms] = useState<VirtualMachine[]>();
  const [error, setError] = useState("");
  const now = useNow();
  useEffect(() => {
    setVms(undefined);
    setError("");
    return watchList<VirtualMachine>(
      vmsPath(props.namespace),
      (items) => {
        setError("");
        setVms(items.sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "")));
      },
      (err) => setError(err.message),
    );
  }, [props.namespace]);
  const create: Access = {
    group: "kubevisor.io",
    resource: "virtualmachines",
    verb: "create",
    namespace: props.namespace,
  };
  const perms = usePermissions({ create }, props.namespace);
  return (
    <main>
      <div class="toolbar">
        <h1>Virtual machines in {props.namespace}</h1>
        <a
          class={`button${perms?.create.allowed ? "" : " disabled"}`}
          href={
            perms?.create.allowed ? `#/ns/${encodeURIComponent(props.namespace)}/create` : undefined
          }
          aria-disabled={!perms?.create.allowed}
          title={perms?.create.reason}
        >
          Create VM
        </a>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {vms === undefined ? (
        <p>Loading…</p>
      ) : vms.length === 0 ? (
        <p>No virtual machines in this namespace.</p>
      ) : (
        <table class="vms">
          <thead>
            <tr>
              <th>Name</th>
              <th>Phase</th>
              <th>Node</th>
              <th>Accelerator</th>
              <th>IP</th>
              <th>Age</th>
            </tr>
          </thead>
          <tbody>
            {vms.map((vm) => (
              <tr key={vm.metadata.uid} data-vm={vm.metadata.name}>
                <td>
                  <a
                    href={`#/ns/${encodeURIComponent(props.namespace)}/vm/${encodeURIComponent(vm.metadata.name ?? "")}`}
                  >
                    {vm.metadata.name}
                  </a>
                </td>
                <td>
                  <PhaseBadge phase={vm.status?.phase} />
                </td>
                <td>{vm.status?.nodeName ?? ""}</td>
                <td>{vm.status?.acceleration ?? ""}</td>
                <td>{vm.status?.ipAddress ?? ""}</td>
                <td>{age(vm.metadata.creationTimestamp, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
