/**
 * `npm run bench -- metrics`: what a Prometheus scrape of a launcher's /metrics costs, beside
 * /healthz on the same port and process (the anchor: an HTTP round trip that reads nothing).
 * One launcher runs the test guest (TCG, 2 vCPUs, one disk); 50 scrapes one after another,
 * then 20 at once (they share one snapshot).
 */
import { LAUNCHER_PROBE_PORT } from "../src/api/launcher.js";
import { LauncherProcess, testGuestSpec, testPki } from "../tests/integration/launcher/harness.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";

const ROUNDS = 50;
const BURST = 20;

async function timed(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: performance.now() - t0, bytes: body.byteLength };
}

export default async function main() {
  const launcher = await LauncherProcess.start(
    await testPki(),
    "bench-metrics",
    testGuestSpec({ cpu: { cores: 2 }, disks: [{ name: "scratch", emptyDisk: { size: "64Mi" } }] }),
  );
  try {
    await launcher.waitReady();
    const base = `http://${launcher.ip}:${LAUNCHER_PROBE_PORT}`;
    // Warm both paths (first-call JIT, connection set-up).
    for (let i = 0; i < 5; i++)
      await Promise.all([timed(`${base}/metrics`), timed(`${base}/healthz`)]);
    const scrapes: number[] = [];
    const health: number[] = [];
    let bytes = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const s = await timed(`${base}/metrics`);
      scrapes.push(s.ms);
      bytes = s.bytes;
      health.push((await timed(`${base}/healthz`)).ms);
    }
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, () => timed(`${base}/metrics`)));
    const burstMs = performance.now() - t0;
    const t1 = performance.now();
    await Promise.all(Array.from({ length: BURST }, () => timed(`${base}/healthz`)));
    const burstHealthMs = performance.now() - t1;

    const s = summarize(scrapes);
    const h = summarize(health);
    const fmt = (n: number) => n.toFixed(1);
    console.log(
      formatTable(
        ["request", "median ms", "min ms", "max ms", `${BURST} at once ms`],
        [
          ["GET /metrics", fmt(s.median), fmt(s.min), fmt(s.max), fmt(burstMs)],
          ["GET /healthz (anchor)", fmt(h.median), fmt(h.min), fmt(h.max), fmt(burstHealthMs)],
        ],
      ),
    );
    console.log(`/metrics body: ${bytes} bytes`);
    const figures: Figures = {
      scrape_ms_median: s.median,
      scrape_ms_max: s.max,
      burst_ms: burstMs,
      body_bytes: bytes,
    };
    const baseline: Figures = {
      scrape_ms_median: h.median,
      scrape_ms_max: h.max,
      burst_ms: burstHealthMs,
      body_bytes: 0,
    };
    console.log(resultLine("metrics", figures, baseline));
  } finally {
    await launcher.cleanup();
  }
}
