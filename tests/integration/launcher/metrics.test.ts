import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHER_PROBE_PORT } from "../../../src/api/launcher.js";
import { LAUNCHER_METRICS } from "../../../src/launcher/metrics-defs.js";
import { parsePromText, select } from "../../lib/prom-text.js";
import { LauncherProcess, type Pki, testGuestSpec, testPki } from "./harness.js";

let pki: Pki;
let launcher: LauncherProcess;

const scrape = async () => {
  const res = await fetch(`http://${launcher.ip}:${LAUNCHER_PROBE_PORT}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePromText(await res.text());
};

const one = async (name: string, labels: Record<string, string> = {}) => {
  const found = select(await scrape(), name, labels);
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]?.value ?? Number.NaN;
};

beforeAll(async () => {
  pki = await testPki();
  launcher = await LauncherProcess.start(
    pki,
    "metrics",
    testGuestSpec({
      cpu: { cores: 2 },
      disks: [{ name: "scratch", emptyDisk: { size: "64Mi" } }],
    }),
  );
  await launcher.waitReady();
});

afterAll(async () => {
  const pid = launcher?.qemuPid();
  // Never leave a stopped QEMU behind, whatever a test did.
  if (pid) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {}
  }
  await launcher?.cleanup();
});

describe("a launcher's /metrics with a real QEMU", () => {
  it("labels every per-VM series with the VM's namespace and name", async () => {
    const samples = await scrape();
    const ours = samples.filter((s) => s.name in LAUNCHER_METRICS);
    expect(ours.length).toBeGreaterThan(10);
    for (const s of ours) {
      expect(s.labels).toMatchObject({ namespace: "tests", name: "metrics" });
    }
    expect(select(samples, "kubevisor_vmi_launcher_stats_failed")).toEqual([]);
  });

  it("reports QEMU's CPU time, and it grows while the guest runs", async () => {
    const first = await one("kubevisor_vmi_cpu_usage_seconds_total");
    expect(first).toBeGreaterThan(0);
    const user = await one("kubevisor_vmi_cpu_user_usage_seconds_total");
    const system = await one("kubevisor_vmi_cpu_system_usage_seconds_total");
    expect(user + system).toBeGreaterThanOrEqual(first);
    // The guest prints a counter forever: QEMU keeps using CPU. Poll until it has.
    let later = first;
    while (later <= first) {
      await new Promise((r) => setTimeout(r, 500));
      later = await one("kubevisor_vmi_cpu_usage_seconds_total");
    }
    expect(later).toBeGreaterThan(first);
  });

  it("reports guest memory as specified, QEMU's RSS, and one vCPU series per core", async () => {
    expect(await one("kubevisor_vmi_memory_domain_bytes")).toBe(256 * 2 ** 20);
    const rss = await one("kubevisor_vmi_memory_resident_bytes");
    expect(rss).toBeGreaterThan(1 * 2 ** 20);
    const vcpus = select(await scrape(), "kubevisor_vmi_vcpu_seconds_total", { state: "running" });
    expect(vcpus.map((v) => v.labels.id).sort()).toEqual(["0", "1"]);
  });

  it("reports block I/O per disk under the disk's name", async () => {
    const samples = await scrape();
    const read = select(samples, "kubevisor_vmi_storage_read_traffic_bytes_total", {
      drive: "scratch",
    });
    expect(read).toHaveLength(1);
    // The guest kernel probes the disk (partition table) as it boots.
    expect(read[0]?.value).toBeGreaterThan(0);
    expect(
      select(samples, "kubevisor_vmi_storage_iops_read_total", { drive: "scratch" })[0]?.value,
    ).toBeGreaterThan(0);
    expect(select(samples, "kubevisor_vmi_storage_write_traffic_bytes_total")).toHaveLength(1);
  });

  it("reports the accelerator in use and what the spec asked for", async () => {
    expect(
      await one("kubevisor_vmi_accelerator_info", { accelerator: "tcg", requested: "Emulation" }),
    ).toBe(1);
  });

  it("shows no migration rates while no migration runs", async () => {
    const samples = await scrape();
    expect(select(samples, "kubevisor_vmi_migration_memory_transfer_rate_bytes")).toEqual([]);
  });

  it("the plain-HTTP port serves only probes and metrics: nothing there reads status or acts", async () => {
    const probe = (path: string, method = "GET") =>
      fetch(`http://${launcher.ip}:${LAUNCHER_PROBE_PORT}${path}`, { method }).then(
        (r) => r.status,
      );
    expect(await probe("/status")).toBe(404);
    expect(await probe("/migrate")).toBe(404);
    expect(await probe("/migrate", "DELETE")).toBe(404);
    expect(await probe("/migrate/incoming", "POST")).toBe(404);
    expect(await probe("/console")).toBe(404);
    expect(await probe("/metrics", "POST")).toBe(405);
  });

  it("a stuck QEMU (SIGSTOP: QMP never answers) cannot hang /metrics", async () => {
    const pid = launcher.qemuPid() as number;
    process.kill(pid, "SIGSTOP");
    try {
      // Many scrapes at once: they share one snapshot, each QMP call bounded.
      const all = await Promise.all(Array.from({ length: 5 }, () => scrape()));
      for (const samples of all) {
        const failed = select(samples, "kubevisor_vmi_launcher_stats_failed").map(
          (s) => s.labels.part,
        );
        expect(failed).toEqual(expect.arrayContaining(["memory", "blockstats", "vcpus"]));
        // What /proc tells goes on being reported.
        expect(select(samples, "kubevisor_vmi_cpu_usage_seconds_total")).toHaveLength(1);
      }
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // QEMU answers again: the next scrape is whole.
    let samples = await scrape();
    while (select(samples, "kubevisor_vmi_launcher_stats_failed").length > 0) {
      await new Promise((r) => setTimeout(r, 200));
      samples = await scrape();
    }
    expect(select(samples, "kubevisor_vmi_memory_domain_bytes")).toHaveLength(1);
  });
});
