/** The read-only sections of a VM's page: conditions, launcher pod, migrations, Events. */
import { useEffect, useState } from "preact/hooks";
import type { VirtualMachineMigration } from "../../api/migration.js";
import type { VirtualMachine } from "../../api/virtualmachine.js";
import { api, watchList } from "./api";
import { age, bytes, progressPercent } from "./format";
import { eventsPath, migrationsPath, podPath } from "./paths";

export function Conditions(props: { vm: VirtualMachine }) {
  const conditions = props.vm.status?.conditions ?? [];
  if (conditions.length === 0) return <p>No conditions reported yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>Type</th>
          <th>Status</th>
          <th>Reason</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {conditions.map((c) => (
          <tr key={c.type}>
            <td>{c.type}</td>
            <td>{c.status}</td>
            <td>{c.reason ?? ""}</td>
            <td>{c.message ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface Pod {
  metadata: { name: string; uid?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string };
}

export function LauncherPod(props: { namespace: string; name?: string }) {
  const [pod, setPod] = useState<Pod>();
  const [error, setError] = useState("");
  useEffect(() => {
    setPod(undefined);
    setError("");
    if (!props.name) return;
    api<Pod>("GET", podPath(props.namespace, props.name)).then(setPod, (e: Error) =>
      setError(e.message),
    );
  }, [props.namespace, props.name]);
  if (!props.name) return <p>No launcher pod: the VM is not running.</p>;
  if (error)
    return (
      <p class="muted">
        {props.name}: {error}
      </p>
    );
  return (
    <p>
      <code>{props.name}</code>{" "}
      {pod
        ? `— ${pod.status?.phase ?? ""} on ${pod.spec?.nodeName ?? "?"}, IP ${pod.status?.podIP ?? "?"}`
        : ""}
    </p>
  );
}

export function Migrations(props: { namespace: string; vmName: string }) {
  const [items, setItems] = useState<VirtualMachineMigration[]>([]);
  const [error, setError] = useState("");
  useEffect(
    () =>
      watchList<VirtualMachineMigration>(
        migrationsPath(props.namespace),
        (all) => {
          setError("");
          setItems(
            all
              .filter((m) => m.spec.vmName === props.vmName)
              .sort((a, b) =>
                (b.metadata.creationTimestamp ?? "").localeCompare(
                  a.metadata.creationTimestamp ?? "",
                ),
              ),
          );
        },
        (e) => setError(e.message),
      ),
    [props.namespace, props.vmName],
  );
  if (error) return <p class="muted">Migrations: {error}</p>;
  if (items.length === 0) return <p>No migrations.</p>;
  return (
    <ul class="migrations">
      {items.map((m) => {
        const pct = progressPercent(m.status?.progress, m.status?.phase);
        const p = m.status?.progress;
        return (
          <li key={m.metadata.uid} data-migration={m.metadata.name}>
            <div>
              <strong>{m.metadata.name}</strong>{" "}
              <span class="migration-phase">{m.status?.phase ?? "Pending"}</span>{" "}
              {m.status?.sourceNode && m.status?.targetNode
                ? `${m.status.sourceNode} → ${m.status.targetNode}`
                : ""}
            </div>
            <progress
              max={100}
              value={pct ?? 0}
              aria-label={`migration ${m.metadata.name} progress`}
            />
            <div class="muted">
              {p?.dataProcessedBytes !== undefined ? `${bytes(p.dataProcessedBytes)} sent` : ""}
              {p?.dataRemainingBytes !== undefined
                ? `, ${bytes(p.dataRemainingBytes)} remaining`
                : ""}
              {m.status?.downtimeMs !== undefined ? ` · downtime ${m.status.downtimeMs} ms` : ""}
              {m.status?.totalTimeMs !== undefined ? ` · total ${m.status.totalTimeMs} ms` : ""}
              {m.status?.message ? ` · ${m.status.message}` : ""}
            </div>
          </li>
        );
      })}
    </ul>
  );
}

interface KubeEvent {
  metadata: { uid?: string; name?: string };
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
}

export function Events(props: { namespace: string; vmName: string; now: number }) {
  const [events, setEvents] = useState<KubeEvent[]>([]);
  const [error, setError] = useState("");
  useEffect(
    () =>
      watchList<KubeEvent>(
        eventsPath(props.namespace, props.vmName),
        (all) => {
          setError("");
          const when = (e: KubeEvent) => e.lastTimestamp ?? e.eventTime ?? "";
          setEvents(all.sort((a, b) => when(b).localeCompare(when(a))));
        },
        (e) => setError(e.message),
      ),
    [props.namespace, props.vmName],
  );
  if (error) return <p class="muted">Events: {error}</p>;
  if (events.length === 0) return <p>No events.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>Age</th>
          <th>Type</th>
          <th>Reason</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.metadata.uid}>
            <td>{age(e.lastTimestamp ?? e.eventTime, props.now)}</td>
            <td>{e.type ?? ""}</td>
            <td>{e.reason ?? ""}</td>
            <td>
              {e.message ?? ""}
              {e.count && e.count > 1 ? ` (×${e.count})` : ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
