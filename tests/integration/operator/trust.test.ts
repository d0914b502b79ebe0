import type { ServerResponse } from "node:http";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { GROUP } from "../../../src/api/index.js";
import { paths } from "../../../src/kube/client.js";
import {
  createVm,
  ensureNamespace,
  eventsOf,
  FakeKubelet,
  getVm,
  launcherPods,
  operatorSuite,
  until,
  untilVm,
  type Vm,
  vmPath,
} from "./harness.js";

/**
 * The operator trusts no answer blindly: attackers are launchers that answer wrongly, a
 * tenant who squats a launcher pod name or the launcher TLS Secret name, and an apiserver
 * that refuses the launcher pod.
 */

/** Bytes the 100 MiB launcher managed to push before the operator hung up. */
let hugeWritten = 0;
let hugeDone = false;

const MiB = 1024 * 1024;

/** What a launcher that is not one answers, by VM name. */
const misbehaviours: Record<string, (res: ServerResponse) => void> = {
  html: (res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<html><body>It works!</body></html>");
  },
  shape: (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ phase: "Exploded", bootTimeMs: -1 }));
  },
  // A byte every 200 ms forever: an idle timeout never fires.
  trickle: (res) => trickle(res),
  trickle2: (res) => trickle(res),
  huge: (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < 100 * MiB && !res.destroyed) {
        sent += chunk.length;
        hugeWritten = Math.max(hugeWritten, sent);
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      hugeDone = true;
      res.end();
    };
    res.on("close", () => {
      hugeDone = true;
    });
    pump();
  },
};

function trickle(res: ServerResponse) {
  res.writeHead(200, { "content-type": "application/json" });
  res.write("{");
  const timer = setInterval(() => res.write(" "), 200);
  res.on("close", () => clearInterval(timer));
}

const FAST_TRUST = {
  claimGraceMs: 1000,
  quickFailureMs: 0,
  restartDelayMs: 0,
  statusPollMs: 1000,
  rejectRetryMs: 1000,
};

// Two workers: two launchers that trickle forever would hold both if calls had no deadline.
const { env, operator } = operatorSuite(
  "trust",
  160,
  { workers: 2, decide: { ...FAST_TRUST }, networkPolicy: true },
  (env) => {
    env.launcher.respond = (vm, _req, res) => {
      const answer = misbehaviours[vm];
      if (!answer) return false;
      answer(res);
      return true;
    };
  },
);

type Condition = { type: string; status: string; reason?: string; message?: string };
const conditionOf = (vm: Vm, type: string) =>
  (vm.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);

describe("launchers that answer wrongly", () => {
  it("each gets a LauncherMisbehaving condition and Event; the operator and other VMs carry on", async () => {
    const bad = Object.keys(misbehaviours);
    for (const name of bad) await createVm(env.c, env.ns, name);
    for (const name of bad) {
      const vm = await untilVm(
        env.c,
        env.ns,
        name,
        "LauncherMisbehaving",
        (v) => conditionOf(v, "Launcher")?.reason === "LauncherMisbehaving",
        60_000,
      );
      expect(conditionOf(vm, "Launcher")?.status).toBe("False");
      const event = await until(`${name}: LauncherMisbehaving event`, async () =>
        (await eventsOf(env.c, env.ns, name)).find((e) => e.reason === "LauncherMisbehaving"),
      );
      expect(event.type).toBe("Warning");
    }
    const html = await getVm(env.c, env.ns, "html");
    expect(conditionOf(html, "Launcher")?.message).toMatch(/not JSON/);
    expect(conditionOf(await getVm(env.c, env.ns, "shape"), "Launcher")?.message).toMatch(/phase/);
    expect(conditionOf(await getVm(env.c, env.ns, "huge"), "Launcher")?.message).toMatch(
      /larger than/,
    );
    expect(conditionOf(await getVm(env.c, env.ns, "trickle"), "Launcher")?.message).toMatch(
      /within/,
    );

    // A VM created after them all still progresses: no worker is stuck on a trickle.
    await createVm(env.c, env.ns, "good");
    const good = await untilVm(
      env.c,
      env.ns,
      "good",
      "Running with the launcher's word",
      (v) => v.status?.phase === "Running" && v.status.acceleration === "TCG",
      30_000,
    );
    expect(conditionOf(good, "Launcher")).toMatchObject({ status: "True", reason: "Responding" });
    // Its launchers accept the operator's pods on the API port, and their own peers.
    const policy = await env.c.get<{ spec: { podSelector: unknown; ingress: unknown[] } }>(
      `/apis/networking.k8s.io/v1/namespaces/${env.ns}/networkpolicies/good-launcher-ingress`,
    );
    expect(policy.spec.podSelector).toEqual({
      matchLabels: { [`${GROUP}/vm`]: "good", [`${GROUP}/component`]: "launcher" },
    });
    expect(policy.spec.ingress[0]).toMatchObject({
      from: [
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": env.operatorNs } } },
      ],
      ports: [{ port: 8443 }],
    });
    expect(operator().isLeader()).toBe(true);
    // Memory stayed bounded: the operator hung up after about a MiB, not 100.
    await until("the huge answer ended", async () => hugeDone);
    console.log(
      `the 100 MiB launcher got ${(hugeWritten / MiB).toFixed(1)} MiB out before the cut`,
    );
    expect(hugeWritten).toBeLessThan(32 * MiB);
  });
});

describe("a pod pre-created under a launcher name", () => {
  it("is never contacted, started or adopted; the VM starts under a launch of its own", async () => {
    const name = "squat";
    // The tenant knows the name the first launch will use, and takes it first.
    const squatter = await env.c.create<V1Pod>(paths.pods(env.ns), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${name}-launcher-1`,
        namespace: env.ns,
        labels: { [`${GROUP}/component`]: "launcher", [`${GROUP}/vm`]: name },
      },
      spec: { containers: [{ name: "launcher", image: "kubevisor:test" }] },
    });
    const squatterIp = await until("squatter running", async () => {
      const [p] = await launcherPods(env.c, env.ns, name);
      return p?.status?.phase === "Running" ? p.status.podIP : undefined;
    });
    await createVm(env.c, env.ns, name);
    // No waiting on a clock or on the tenant: the name is skipped, launch 2 is the VM's own.
    const running = await untilVm(
      env.c,
      env.ns,
      name,
      "Running",
      (v) => v.status?.phase === "Running",
      30_000,
    );
    expect(running.status?.launcherPod).toBe(`${name}-launcher-2`);
    const [own] = await launcherPods(env.c, env.ns, name).then((ps) =>
      ps.filter((p) => p.metadata?.name === running.status?.launcherPod),
    );
    expect(running.status?.launcherPodUID).toBe(own?.metadata?.uid);
    expect(own?.metadata?.uid).not.toBe(squatter.metadata?.uid);
    expect(running.status?.ipAddress).not.toBe(squatterIp);
    // The squatter's address was never dialled: no /status, no /start, nothing.
    const dialled = env.launcher.asked.map((a) => a.ip.replace(/^::ffff:/, ""));
    expect(dialled).not.toContain(squatterIp);
    expect(env.launcher.started.filter((ip) => ip === squatterIp)).toEqual([]);
  });
});

describe("a launcher TLS Secret name taken by someone else", () => {
  it("is neither used nor overwritten; the VM gets a SecretConflict Failure", async () => {
    const name = "sec";
    const planted = await env.c.create<V1Secret>(paths.secrets(env.ns), {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${name}-launcher-tls`, namespace: env.ns },
      stringData: { "tls.crt": "mine", "tls.key": "mine", "ca.crt": "my own CA" },
    });
    await createVm(env.c, env.ns, name);
    const vm = await untilVm(
      env.c,
      env.ns,
      name,
      "SecretConflict",
      (v) => conditionOf(v, "Failure")?.reason === "SecretConflict",
      30_000,
    );
    expect(conditionOf(vm, "Failure")?.message).toContain(`${name}-launcher-tls`);
    expect(await launcherPods(env.c, env.ns, name)).toEqual([]);
    const now = await env.c.get<V1Secret>(paths.secret(env.ns, `${name}-launcher-tls`));
    expect(now.metadata?.resourceVersion).toBe(planted.metadata?.resourceVersion);
    expect(Buffer.from(now.data?.["ca.crt"] ?? "", "base64").toString()).toBe("my own CA");
  });
});

describe("a launcher pod the apiserver refuses", () => {
  it("gives PodRejected with the apiserver's words, no claim churn, and starts once allowed", async () => {
    const ns = `${env.ns}-quota`;
    await ensureNamespace(env.c, ns);
    const kubelet = new FakeKubelet(env.c, ns, 220);
    kubelet.autoRun = false;
    kubelet.start();
    try {
      await env.c.create(`/api/v1/namespaces/${ns}/resourcequotas`, {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "no-pods", namespace: ns },
        spec: { hard: { pods: "0" } },
      });
      await createVm(env.c, ns, "q");
      const vm = await untilVm(
        env.c,
        ns,
        "q",
        "PodRejected",
        (v) => conditionOf(v, "Failure")?.reason === "PodRejected",
        30_000,
      );
      expect(conditionOf(vm, "Failure")?.message).toMatch(/forbidden|quota/i);
      const event = await until("PodRejected event", async () =>
        (await eventsOf(env.c, ns, "q")).find((e) => e.reason === "PodRejected"),
      );
      expect(event.type).toBe("Warning");
      // Retried (every second here) under the same claim: the count does not move.
      await until("a retry was rejected too", async () => {
        const events = await eventsOf(env.c, ns, "q");
        return (events.find((e) => e.reason === "PodRejected")?.count ?? 0) >= 3;
      });
      expect((await getVm(env.c, ns, "q")).status?.launchCount).toBe(1);

      await env.c.delete(`/api/v1/namespaces/${ns}/resourcequotas/no-pods`);
      const [pod] = await until("launcher pod created", async () => {
        const pods = await launcherPods(env.c, ns, "q");
        return pods.length > 0 ? pods : undefined;
      });
      const after = await untilVm(env.c, ns, "q", "UID recorded", (v) =>
        Boolean(v.status?.launcherPodUID),
      );
      expect(pod?.metadata?.name).toBe("q-launcher-1");
      expect(after.status?.launchCount).toBe(1);
      expect(after.status?.launcherPodUID).toBe(pod?.metadata?.uid);
    } finally {
      await env.c.delete(vmPath(ns, "q")).catch(() => {});
      await until(
        "quota VM gone",
        async () => (await env.c.list<Vm>(vmPath(ns))).items.length === 0,
        30_000,
      ).catch(() => {});
      kubelet.stop();
    }
  });
});
