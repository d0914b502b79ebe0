import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { metricCatalog, seriesNames } from "../../../scripts/lib/metrics-catalog.js";
import { selectedMetrics } from "../../../scripts/lib/promql.js";

const root = join(import.meta.dirname, "..", "..", "..");
const monitoring = join(root, "charts", "kubevisor", "monitoring");

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (
  parse(readFileSync(join(monitoring, "rules.yaml"), "utf8")) as {
    groups: { rules: Rule[] }[];
  }
).groups.flatMap((g) => g.rules);

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(monitoring, "dashboard.json"), "utf8")) as {
  panels: Panel[];
  templating: { list: { name: string; query?: unknown }[] };
};

/** Metrics that are not ours, each with who exports it. */
const EXTERNAL: Record<string, string> = {
  aggregator_unavailable_apiservice:
    "kube-apiserver (the aggregation layer's view of our APIService)",
};

/** Grafana's variables are not PromQL: give them values that parse. */
const grafana = (expr: string) =>
  expr.replace(/\$__rate_interval/g, "5m").replace(/\$\{?\w+\}?/g, "x");

function dashboardExprs(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: `panel ${p.title}`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    const m = typeof v.query === "string" ? /^label_values\((.+),\s*\w+\)$/.exec(v.query) : null;
    if (m?.[1]) out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}

describe("dashboard and rules reference only metrics that exist", async () => {
  const catalog = await metricCatalog();
  const exported = new Set(catalog.flatMap(seriesNames));
  const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
  const known = (name: string) => exported.has(name) || recorded.has(name) || name in EXTERNAL;

  it("every rule expression selects exported, recorded or listed external metrics", () => {
    for (const r of rules) {
      for (const name of selectedMetrics(r.expr)) {
        expect(known(name), `${r.record ?? r.alert}: ${name}`).toBe(true);
      }
    }
  });

  it("every dashboard query does too", () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    for (const { where, expr } of exprs) {
      for (const name of selectedMetrics(grafana(expr))) {
        expect(known(name), `${where}: ${name}`).toBe(true);
      }
    }
  });

  it("the check catches a metric the code does not export", () => {
    expect(selectedMetrics("rate(kubevirt_vmi_cpu_usage_seconds_total[5m])").every(known)).toBe(
      false,
    );
  });

  it("covers what the dashboard must show: VMs by phase and node, per-VM CPU, memory, IO, migrations, operator", () => {
    const used = new Set(dashboardExprs().flatMap((e) => selectedMetrics(grafana(e.expr))));
    for (const name of [
      "node:kubevisor_vmi_phase:sum",
      "kubevisor_vmi_cpu_usage_seconds_total",
      "kubevisor_vmi_memory_resident_bytes",
      "kubevisor_vmi_storage_read_traffic_bytes_total",
      "kubevisor_vmi_network_receive_bytes_total",
      "kubevisor_vmi_migrations_total",
      "kubevisor_vmi_migration_downtime_seconds_bucket",
      "kubevisor_vmi_migration_duration_seconds_bucket",
      "kubevisor_workqueue_depth",
      "cluster:kubevisor_operator_leading:sum",
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });
});

describe("alerts", () => {
  const alerts = rules.filter((r) => r.alert);
  const runbooks = readFileSync(join(root, "docs", "runbooks.md"), "utf8");
  const anchors = new Set(
    [...runbooks.matchAll(/^## (.+)$/gm)].map((m) => (m[1] ?? "").toLowerCase()),
  );

  it("are the seven the issue asks for", () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      "KubevisorAggregatedAPIUnavailable",
      "KubevisorNoLeader",
      "KubevisorOperatorDown",
      "KubevisorVMCannotBeEvicted",
      "KubevisorVMExcessiveMigrations",
      "KubevisorVMMigrationFailed",
      "KubevisorVMRunningOnTCG",
    ]);
  });

  it("each has a severity, a summary and a runbook_url to its own section of docs/runbooks.md", () => {
    for (const a of alerts) {
      expect(["critical", "warning", "info"], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      const url = a.annotations?.runbook_url ?? "";
      expect(url, a.alert).toMatch(
        /^https:\/\/github\.com\/kubevisor\/kubevisor\/blob\/main\/docs\/runbooks\.md#/,
      );
      const anchor = url.split("#")[1] ?? "";
      expect(anchor, a.alert).toBe((a.alert ?? "").toLowerCase());
      expect(anchors.has(anchor), `docs/runbooks.md has a section ${a.alert}`).toBe(true);
    }
  });
});
