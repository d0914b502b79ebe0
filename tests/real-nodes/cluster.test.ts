/**
 * Real nodes end to end: `--runtime containerd` brings up two kubelets with containerd in the
 * project's network namespace; pods run, talk across nodes, reach the apiserver through the
 * `kubernetes` Service with TLS verified, serve logs/exec/port-forward; nothing routes off
 * the machine; a second `up` reuses what runs. On the real-node run's shared cluster
 * (tests/real-nodes/global-setup.ts, whose teardown checks that `down` leaves the host exactly
 * as it was).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { $ } from "dax-sh";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startRealCluster } from "../../src/local/containerd/cluster.js";
import { nodeImages } from "../../src/local/containerd/images.js";
import { holderPid, inNetns } from "../../src/local/containerd/netns.js";
import { DEFAULT_REAL_NODE_NAMES, realClusterPlan } from "../../src/local/containerd/plan.js";
import { clusterLayout } from "../../src/local/layout.js";
import { scanProcesses } from "../../src/local/process.js";
import { REAL_CLUSTER_NAME } from "./global-setup.js";
import { type HostSnapshot, snapshotHost } from "./host-state.js";
import { TEST_IMAGE } from "./test-image.js";

const dir = inject("clusterDir");
const plan = realClusterPlan(dir, REAL_CLUSTER_NAME, DEFAULT_REAL_NODE_NAMES);
const kubeconfig = inject("kubeconfig");
const NS = "rn-cluster";
/** The host before `up`, taken by the global setup. */
const before = JSON.parse(inject("hostBefore")) as HostSnapshot;
/** Outside the namespace: a documentation address (RFC 5737) that must never be reached. */
const OUTSIDE = "198.51.100.7";

async function k(...args: string[]): Promise<string> {
  return await $`kubectl --kubeconfig ${kubeconfig} -n ${NS} ${args}`.text();
}
async function kTry(...args: string[]) {
  return await $`kubectl --kubeconfig ${kubeconfig} -n ${NS} ${args}`
    .noThrow()
    .stdout("piped")
    .stderr("piped");
}

function podYaml(name: string, node: string, script: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "rn" } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "main",
          image: TEST_IMAGE,
          imagePullPolicy: "Never",
          command: ["/bin/sh", "-c", script],
        },
      ],
    },
  });
}

const SERVE =
  'echo "$HOSTNAME" > /srv/index.html; echo "serving $HOSTNAME"; exec httpd -f -p 8080 -h /srv';

beforeAll(async () => {
  await k("create", "namespace", NS);
  for (const [i, node] of DEFAULT_REAL_NODE_NAMES.entries()) {
    await $`kubectl --kubeconfig ${kubeconfig} -n ${NS} apply -f -`
      .stdinText(podYaml(`web-${i}`, node, SERVE))
      .quiet();
  }
  await k("wait", "--for=condition=Ready", "pod/web-0", "pod/web-1", "--timeout=180s");
}, 1_800_000);

afterAll(async () => {
  await k("delete", "namespace", NS, "--wait=false");
});

async function podIp(name: string): Promise<string> {
  return (await k("get", "pod", name, "-o", "jsonpath={.status.podIP}")).trim();
}

describe("real nodes (--runtime containerd)", () => {
  it("runs both nodes Ready with the images imported, one pod on each", async () => {
    const ready = await k(
      "get",
      "nodes",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}',
    );
    for (const n of DEFAULT_REAL_NODE_NAMES) expect(ready).toContain(`${n}=True`);
    for (const n of plan.nodes) expect(await nodeImages(n)).toContain(TEST_IMAGE);
    expect(await k("get", "pod", "web-0", "-o", "jsonpath={.spec.nodeName}")).toBe(
      DEFAULT_REAL_NODE_NAMES[0],
    );
    expect(await k("get", "pod", "web-1", "-o", "jsonpath={.spec.nodeName}")).toBe(
      DEFAULT_REAL_NODE_NAMES[1],
    );
    expect(await podIp("web-0")).toMatch(/^10\.244\.0\./);
    expect(await podIp("web-1")).toMatch(/^10\.244\.1\./);
  });

  it("pods on the two nodes reach each other", async () => {
    const ip0 = await podIp("web-0");
    const ip1 = await podIp("web-1");
    expect((await k("exec", "web-0", "--", "wget", "-qO-", `http://${ip1}:8080/`)).trim()).toBe(
      "web-1",
    );
    expect((await k("exec", "web-1", "--", "wget", "-qO-", `http://${ip0}:8080/`)).trim()).toBe(
      "web-0",
    );
  });

  it("a pod reaches the apiserver through the kubernetes Service with TLS verified", async () => {
    const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    const ok = await k(
      "exec",
      "web-0",
      "--",
      "curl",
      "-sS",
      "--cacert",
      `${sa}/ca.crt`,
      "--resolve",
      "kubernetes.default.svc:443:10.96.0.1",
      "https://kubernetes.default.svc/version",
    );
    expect(JSON.parse(ok).gitVersion).toBe("v1.36.3");
    // The attacker's view: a server vouched for by another CA (here the cluster's own
    // front-proxy CA, a real CA that did not sign the apiserver's certificate) is refused, and
    // so is a name the certificate does not carry.
    const other = readFileSync(clusterLayout(dir).pki.frontProxyCaCert, "utf8");
    await $`kubectl --kubeconfig ${kubeconfig} -n ${NS} exec -i web-0 -- sh -c ${"cat > /tmp/other-ca.crt"}`
      .stdinText(other)
      .quiet();
    const otherCa = await kTry(
      "exec",
      "web-0",
      "--",
      "curl",
      "-sS",
      "--cacert",
      "/tmp/other-ca.crt",
      "https://10.96.0.1/version",
    );
    expect(otherCa.code).not.toBe(0);
    expect(otherCa.stderr).toMatch(/certificate/i);
    const wrongName = await kTry(
      "exec",
      "web-0",
      "--",
      "curl",
      "-sS",
      "--cacert",
      `${sa}/ca.crt`,
      "--resolve",
      "evil.example:443:10.96.0.1",
      "https://evil.example/version",
    );
    expect(wrongName.code).not.toBe(0);
    expect(wrongName.stderr).toMatch(/certificate|subject|name/i);
  });

  it("kubectl logs, exec and port-forward work", async () => {
    expect(await k("logs", "web-1")).toContain("serving web-1");
    expect((await k("exec", "web-1", "--", "cat", "/srv/index.html")).trim()).toBe("web-1");
    const pf = spawn(
      "kubectl",
      ["--kubeconfig", kubeconfig, "-n", NS, "port-forward", "pod/web-1", ":8080"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const port = await new Promise<string>((resolve, reject) => {
        let out = "";
        pf.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /127\.0\.0\.1:(\d+)/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        pf.once("exit", (c) => reject(new Error(`port-forward exited ${c}: ${out}`)));
      });
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(body.trim()).toBe("web-1");
    } finally {
      pf.kill();
    }
  });

  it("nothing leaves the machine: no route out of the namespace, a pod's connection fails inside", async () => {
    const holder = holderPid(plan);
    expect(holder).toBeDefined();
    const routes = await $`nsenter ${inNetns(holder as number, ["ip", "route", "show"])}`.text();
    expect(routes).not.toMatch(/^default/m);
    const get = await $`nsenter ${inNetns(holder as number, ["ip", "route", "get", OUTSIDE])}`
      .noThrow()
      .stderr("piped");
    expect(get.code).not.toBe(0);
    expect(get.stderr).toMatch(/unreachable/i);
    const tries = await kTry("exec", "web-0", "--", "curl", "-sS", "-m", "5", `http://${OUTSIDE}/`);
    expect(tries.code).not.toBe(0);
    // The host's own packet filter and routes were never touched while the cluster ran.
    const now = await snapshotHost(dir);
    expect(now.iptables).toBe(before.iptables);
    expect(now.sysctls["net/ipv4/ip_forward"]).toBe(before.sysctls["net/ipv4/ip_forward"]);
  });

  it("a second up reuses the running nodes: never a second kubelet or containerd", async () => {
    const daemons = () =>
      scanProcesses(
        (a) =>
          a.some((x) => x.includes(`${dir}/`)) &&
          /(^|\/)(kubelet|containerd|kube-proxy)$/.test(a[0] ?? ""),
      );
    const first = daemons().sort();
    expect(first).toHaveLength(5); // 2 kubelets, 2 containerds, 1 kube-proxy
    const again = await startRealCluster({ name: REAL_CLUSTER_NAME, dir });
    expect(again.controlPlane.reused).toBe(true);
    expect(daemons().sort()).toEqual(first);
    expect(
      await k("get", "pod", "web-0", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"),
    ).toBe("0");
  });
});
