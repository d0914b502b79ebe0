/** Pure display helpers (unit-tested). */

/** `2024-01-01T00:00:00Z` → `5m`, `3h`, `2d`, like kubectl's AGE column. */
export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return "";
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Share of a migration's data already sent, 0–100; undefined before the first figures. */
export function progressPercent(
  p:
    | { dataTotalBytes?: number; dataProcessedBytes?: number; dataRemainingBytes?: number }
    | undefined,
  phase?: string,
): number | undefined {
  if (phase === "Succeeded") return 100;
  if (!p?.dataTotalBytes) return undefined;
  if (p.dataRemainingBytes !== undefined)
    return Math.min(
      100,
      Math.max(0, Math.round(100 * (1 - p.dataRemainingBytes / p.dataTotalBytes))),
    );
  if (p.dataProcessedBytes !== undefined)
    return Math.min(100, Math.round((100 * p.dataProcessedBytes) / p.dataTotalBytes));
  return undefined;
}

/**
 * The form field an API error cause belongs to: `spec.memory.size` → `memory`. Causes name
 * fields by their path in the object (CRD schema, CEL rules, our zod messages).
 */
export const FIELD_PATHS: Record<string, string> = {
  "metadata.name": "name",
  "spec.cpu.cores": "cores",
  "spec.memory.size": "memory",
  "spec.disks[0].containerDisk.image": "image",
};

export function fieldOf(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const clean = path.replace(/^\.+/, "");
  for (const [prefix, field] of Object.entries(FIELD_PATHS))
    if (clean.startsWith(prefix)) return field;
  return undefined;
}
