import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { LauncherMetrics } from "../../../src/launcher/metrics.js";
import { binaryPath } from "../../../src/local/build/targets.js";
import { OperatorMetrics } from "../../../src/operator/metrics.js";
import { MigrationMetrics } from "../../../src/operator/migration/metrics.js";

const root = join(import.meta.dirname, "..", "..", "..");
const chart = join(root, "charts", "kubevisor");
const rulesFile = join(chart, "monitoring", "rules.yaml");
const promtool = binaryPath("promtool", "promtool");
const helm = binaryPath("helm", "helm");
const tmp = mkdtempSync(join(tmpdir(), "kv-promtool-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("promtool on the chart's rules", () => {
  it("check rules: the rule file is valid", async () => {
    const out = await $`${promtool} check rules ${rulesFile}`.text("combined");
    expect(out).toMatch(/SUCCESS: 11 rules found/);
  });

  it("test rules: every alert fires on what should fire it and only then", async () => {
    const r = await $`${promtool} test rules ${join(root, "tests/monitoring/rules.test.yaml")}`
      .noThrow()
      .text("combined");
    expect(r).toMatch(/SUCCESS/);
  });

  it("the unit tests would catch a weakened alert (threshold changed)", async () => {
    const weakened = readFileSync(rulesFile, "utf8").replace(/\[1d\]\)\) >= 12/, "[1d])) >= 20");
    expect(weakened).not.toBe(readFileSync(rulesFile, "utf8"));
    const dir = join(tmp, "weak");
    rmSync(dir, { recursive: true, force: true });
    await $`mkdir -p ${join(dir, "charts/kubevisor/monitoring")} ${join(dir, "tests/monitoring")}`;
    writeFileSync(join(dir, "charts/kubevisor/monitoring/rules.yaml"), weakened);
    writeFileSync(
      join(dir, "tests/monitoring/rules.test.yaml"),
      readFileSync(join(root, "tests/monitoring/rules.test.yaml")),
    );
    const r = await $`${promtool} test rules ${join(dir, "tests/monitoring/rules.test.yaml")}`
      .noThrow()
      .stderr("piped")
      .stdout("piped");
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/KubevisorVMExcessiveMigrations/);
  });

  it("check metrics: what the code exports follows Prometheus' naming conventions", async () => {
    const operator = new OperatorMetrics(
      () => [{ namespace: "a", name: "vm", phase: "Running", node: "n", nonEvictable: false }],
      "0.1.0",
    );
    const migration = new MigrationMetrics(operator.registry, () => []);
    migration.seen("a", "vm");
    migration.downtime.observe({ namespace: "a", vmi: "vm" }, 0.1);
    const launcher = new LauncherMetrics({
      input: () => ({
        vm: { namespace: "a", name: "vm" },
        accel: { accelerator: "tcg", requested: "Auto" },
        network: [],
        drives: new Map(),
      }),
      stats: async () => ({ errors: [], cpu: { userSeconds: 1, systemSeconds: 1 }, rssBytes: 1 }),
    });
    const text = (await operator.registry.metrics()) + (await launcher.scrape());
    const r = await $`${promtool} check metrics`.stdinText(text).noThrow().text("combined");
    const problems = r
      .split("\n")
      .filter((l) => l.trim())
      // prom-client's runtime defaults (nodejs_active_handles_total, …) are not ours to name.
      .filter((l) => !l.startsWith("nodejs_"))
      // KubeVirt's own name for this gauge (its deprecated one was ..._data_total_bytes):
      // kept so that dashboards port by renaming.
      .filter((l) => !l.startsWith("kubevisor_vmi_migration_data_bytes_total "));
    expect(problems).toEqual([]);
  });
});

describe("the chart's monitoring objects", () => {
  const render = (...args: string[]) =>
    $`${helm} template kv ${chart} --namespace kv ${args}`.text().then((t) =>
      parseAllDocuments(t)
        .map(
          (d) =>
            d.toJS() as {
              kind?: string;
              metadata?: { labels?: object };
              spec?: unknown;
              data?: Record<string, string>;
            },
        )
        .filter((d) => d?.kind),
    );

  it("are rendered only where the cluster serves monitoring.coreos.com/v1", async () => {
    const without = await render("--set", "monitoring.dashboard.enabled=false");
    expect(without.map((d) => d.kind)).not.toContain("PrometheusRule");
    expect(without.map((d) => d.kind)).not.toContain("ServiceMonitor");
    const withApi = await render("--api-versions", "monitoring.coreos.com/v1");
    const kinds = withApi.map((d) => d.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(["ServiceMonitor", "PodMonitor", "PrometheusRule"]),
    );
  });

  it("each is behind its value", async () => {
    const off = await render(
      "--api-versions",
      "monitoring.coreos.com/v1",
      "--set",
      "monitoring.serviceMonitor.enabled=false,monitoring.podMonitor.enabled=false,monitoring.prometheusRule.enabled=false",
    );
    expect(off.map((d) => d.kind)).not.toEqual(expect.arrayContaining(["ServiceMonitor"]));
    expect(off.some((d) => ["PodMonitor", "PrometheusRule"].includes(d.kind ?? ""))).toBe(false);
  });

  it("the PrometheusRule carries the rule file, which promtool accepts as rendered", async () => {
    const docs = await render("--api-versions", "monitoring.coreos.com/v1");
    const rule = docs.find((d) => d.kind === "PrometheusRule");
    expect(rule?.spec).toEqual(parse(readFileSync(rulesFile, "utf8")));
    const rendered = join(tmp, "rendered-rules.yaml");
    writeFileSync(rendered, JSON.stringify(rule?.spec));
    expect(await $`${promtool} check rules ${rendered}`.text("combined")).toMatch(/SUCCESS/);
  });

  it("the dashboard ConfigMap carries the dashboard JSON and the grafana_dashboard label", async () => {
    const docs = await render("--set", "monitoring.dashboard.enabled=true");
    const cm = docs.find((d) => d.kind === "ConfigMap" && d.data?.["kubevisor.json"]);
    expect(cm?.metadata?.labels).toMatchObject({ grafana_dashboard: "1" });
    expect(JSON.parse(cm?.data?.["kubevisor.json"] ?? "")).toEqual(
      JSON.parse(readFileSync(join(chart, "monitoring", "dashboard.json"), "utf8")),
    );
  });
});
