import type { VmObject } from "./status.js";

/** Pure: kubectl's age format: 45s, 12m, 3h, 5d (two units while small, as kubectl does). */
export function age(created: string | undefined, now: Date): string {
  const ms = now.getTime() - Date.parse(created ?? "");
  if (!Number.isFinite(ms)) return "<unknown>";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ""}`;
  return `${d}d`;
}

/** Pure: the table `kubectl vm list` prints (the CRD's printer columns, plus more when wide). */
export function vmTable(
  vms: VmObject[],
  opts: { wide: boolean; allNamespaces: boolean; now: Date },
): string[] {
  const header = [
    ...(opts.allNamespaces ? ["NAMESPACE"] : []),
    "NAME",
    "PHASE",
    "NODE",
    "ACCEL",
    "IP",
    "AGE",
    ...(opts.wide ? ["POD", "MIGRATION", "READY"] : []),
  ];
  const rows = vms.map((vm) => {
    const st = vm.status ?? {};
    const ready = st.conditions?.find((c) => c.type === "Ready")?.status ?? "";
    return [
      ...(opts.allNamespaces ? [vm.metadata.namespace] : []),
      vm.metadata.name,
      st.phase ?? "Pending",
      st.nodeName ?? "",
      st.acceleration ?? "",
      st.ipAddress ?? "",
      age(vm.metadata.creationTimestamp, opts.now),
      ...(opts.wide
        ? [st.launcherPod ?? "", st.migration ? `${st.migration.name}` : "", ready]
        : []),
    ];
  });
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
  return table.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : (cell ?? "").padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd(),
  );
}
