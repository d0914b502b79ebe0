/**
 * Every metric the code exports, read from the registries themselves (never a second list):
 * the operator's (with the migration metrics) and the launcher's. Used by the docs generator
 * and by the test that dashboards and rules reference only what exists.
 */
import type { Registry } from "prom-client";
import { LauncherMetrics } from "../../src/launcher/metrics.js";
import { OperatorMetrics } from "../../src/operator/metrics.js";
import { MigrationMetrics } from "../../src/operator/migration/metrics.js";

export type Component = "operator" | "launcher";

export interface CatalogEntry {
  name: string;
  component: Component;
  type: "counter" | "gauge" | "histogram" | "summary";
  help: string;
  labels: string[];
}

async function entries(registry: Registry, component: Component): Promise<CatalogEntry[]> {
  const out: CatalogEntry[] = [];
  for (const got of await registry.getMetricsAsJSON()) {
    const metric = registry.getSingleMetric(got.name);
    // labelNames is public on every prom-client metric but not in its typings.
    const labels = [...((metric as unknown as { labelNames?: string[] }).labelNames ?? [])];
    out.push({
      name: got.name,
      component,
      type: String(got.type) as CatalogEntry["type"],
      help: got.help,
      labels,
    });
  }
  return out;
}

/** All metrics, our own (`kubevisor_…`) and the runtime defaults (`process_…`, `nodejs_…`). */
export async function metricCatalog(): Promise<CatalogEntry[]> {
  const operator = new OperatorMetrics(() => [], "0.0.0");
  new MigrationMetrics(operator.registry, () => []);
  const launcher = new LauncherMetrics({ input: () => undefined, stats: async () => undefined });
  return [
    ...(await entries(operator.registry, "operator")),
    ...(await entries(launcher.registry, "launcher")),
  ];
}

/** The series names a metric exposes: a histogram's _bucket, _sum and _count too. */
export function seriesNames(e: CatalogEntry): string[] {
  if (e.type === "histogram")
    return [e.name, `${e.name}_bucket`, `${e.name}_sum`, `${e.name}_count`];
  if (e.type === "summary") return [e.name, `${e.name}_sum`, `${e.name}_count`];
  return [e.name];
}
