/**
 * Local nodes against the real control plane of the integration run: pods bound to them run
 * as bubblewrap sandboxes, and everything a kubelet reports or honours is checked through
 * the API (and kubectl, for drain).
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KUBEVISOR_IMAGE } from "../../../src/local/images.js";
import { quantityValue } from "../../../src/local/node/fieldpath.js";
import {
  localNodesStatus,
  startLocalNodes,
  stopLocalNodes,
} from "../../../src/local/node/lifecycle.js";
import { findPodLogs } from "../../../src/local/node/logs.js";
import { cmdline } from "../../../src/local/process.js";

const run = promisify(execFile);
const clusterDir = inject("clusterDir");
const NS = "localnode-test";
const [NODE1, NODE2] = ["kubevisor-node-1", "kubevisor-node-2"] as const;
const NODES = [NODE1, NODE2];
let core: CoreV1Api;

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

const getPod = (name: string) => core.readNamespacedPod({ name, namespace: NS });

async function createPod(
  name: string,
  spec: V1Pod["spec"],
  extra: Partial<V1Pod["metadata"]> = {},
): Promise<V1Pod> {
  return await core.createNamespacedPod({
    namespace: NS,
    body: { metadata: { name, ...extra }, spec },
  });
}

async function waitPhase(name: string, phases: string[], timeoutMs = 30_000): Promise<V1Pod> {
  return await waitFor(
    `${name} in ${phases.join("/")}`,
    async () => {
      const p = await getPod(name);
      return phases.includes(p.status?.phase ?? "") ? p : undefined;
    },
    timeoutMs,
  );
}

async function waitGone(name: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${name} deleted`,
    async () => {
      try {
        await getPod(name);
        return undefined;
      } catch (err) {
        return (err as { code?: number }).code === 404 ? true : undefined;
      }
    },
    timeoutMs,
  );
}

function logOf(pod: string, container: string): string {
  const [m] = findPodLogs(clusterDir, NS, pod);
  if (!m) return "";
  try {
    return readFileSync(`${m.dir}/${container}.log`, "utf8");
  } catch {
    return "";
  }
}

const isReady = (p: V1Pod) =>
  p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";

/** Live processes whose command line mentions this cluster's directory (nodes, sandboxes). */
function processesOfCluster(): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => cmdline(pid)?.some((a) => a.includes(`${clusterDir}/nodes/`)));
}

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  core = kc.makeApiClient(CoreV1Api);
  await startLocalNodes({ clusterDir, names: NODES });
  await core.createNamespace({ body: { metadata: { name: NS } } });
  // The controller-manager creates the default ServiceAccount; pods are refused without it.
  await waitFor("default service account", () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: NS }),
  );
});

afterAll(async () => {
  if (clusterDir) await stopLocalNodes({ clusterDir });
});

describe("local nodes", () => {
  it("register Ready nodes with capacity, addresses and leases", async () => {
    for (const name of NODES) {
      const node = await core.readNode({ name });
      expect(node.metadata?.labels).toMatchObject({
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
      });
      expect(node.status?.allocatable).toMatchObject({ pods: "110" });
      // The apiserver canonicalises quantities ("1000" → "1k").
      expect(
        quantityValue(node.status?.allocatable?.["devices.kubevisor.io/kvm"] ?? "0"),
      ).toBeGreaterThan(0);
      expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      expect(node.status?.addresses).toContainEqual({ type: "InternalIP", address: "127.0.0.1" });
    }
    expect(localNodesStatus({ clusterDir }).every((n) => n.ready)).toBe(true);
  });

  it("runs a pod with downward-API env, ConfigMap/Secret/emptyDir/downwardAPI/image volumes and a service-account token", async () => {
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: "cfg" }, data: { greeting: "hello-cm" } },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "sec" }, stringData: { password: "s3cret" } },
    });
    const script = [
      "echo NAME=$POD_NAME NS=$POD_NS IP=$POD_IP NODE=$NODE G=$G P=$P",
      "echo INIT=$(cat /work/init.txt)",
      "echo CM=$(cat /etc/cfg/greeting) SECRET=$(cat /etc/sec/password)",
      "echo NOTE=$(cat /etc/info/note)",
      "echo IMAGE=$(test -f /img/package.json && echo yes)",
      `node -e '${[
        'const fs=require("fs"),https=require("https");',
        'const d="/var/run/secrets/kubernetes.io/serviceaccount/";',
        "const r=https.request({host:process.env.KUBERNETES_SERVICE_HOST,port:process.env.KUBERNETES_SERVICE_PORT,",
        'path:"/apis/authentication.k8s.io/v1/selfsubjectreviews",method:"POST",ca:fs.readFileSync(d+"ca.crt"),',
        'headers:{authorization:"Bearer "+fs.readFileSync(d+"token"),"content-type":"application/json"}},',
        'res=>{let b="";res.on("data",c=>b+=c);res.on("end",()=>console.log("WHOAMI="+JSON.parse(b).status.userInfo.username))});',
        'r.end(JSON.stringify({apiVersion:"authentication.k8s.io/v1",kind:"SelfSubjectReview"}));',
      ].join("")}'`,
    ].join("; ");
    await createPod(
      "env-volumes",
      {
        restartPolicy: "Never",
        initContainers: [
          {
            name: "init",
            image: KUBEVISOR_IMAGE,
            command: ["sh", "-c", "echo from-init > /work/init.txt"],
            volumeMounts: [{ name: "work", mountPath: "/work" }],
          },
        ],
        containers: [
          {
            name: "main",
            image: KUBEVISOR_IMAGE,
            command: ["sh", "-c", script],
            env: [
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              { name: "G", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } },
              { name: "P", valueFrom: { secretKeyRef: { name: "sec", key: "password" } } },
            ],
            volumeMounts: [
              { name: "work", mountPath: "/work" },
              { name: "cfg", mountPath: "/etc/cfg" },
              { name: "sec", mountPath: "/etc/sec" },
              { name: "info", mountPath: "/etc/info" },
              { name: "img", mountPath: "/img" },
            ],
          },
        ],
        volumes: [
          { name: "work", emptyDir: {} },
          { name: "cfg", configMap: { name: "cfg" } },
          { name: "sec", secret: { secretName: "sec" } },
          {
            name: "info",
            downwardAPI: {
              items: [{ path: "note", fieldRef: { fieldPath: "metadata.annotations['note']" } }],
            },
          },
          { name: "img", image: { reference: KUBEVISOR_IMAGE } },
        ],
      },
      { annotations: { note: "from-annotation" } },
    );
    const pod = await waitPhase("env-volumes", ["Succeeded", "Failed"]);
    const log = logOf("env-volumes", "main");
    expect(pod.status?.phase, log).toBe("Succeeded");
    const ip = pod.status?.podIP;
    expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(ip).not.toBe("127.0.0.1");
    expect(log).toContain(
      `NAME=env-volumes NS=${NS} IP=${ip} NODE=${pod.spec?.nodeName} G=hello-cm P=s3cret`,
    );
    expect(log).toContain("INIT=from-init");
    expect(log).toContain("CM=hello-cm SECRET=s3cret");
    expect(log).toContain("NOTE=from-annotation");
    expect(log).toContain("IMAGE=yes");
    expect(log).toContain(`WHOAMI=system:serviceaccount:${NS}:default`);
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.reason).toBe("Completed");
  });

  it("brings a running pod's Secret volume up to date in place, as the kubelet does", async () => {
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "rotating" }, stringData: { "tls.crt": "first" } },
    });
    await createPod("secret-follow", {
      containers: [
        {
          name: "main",
          image: KUBEVISOR_IMAGE,
          command: ["sh", "-c", "while true; do echo SEEN=$(cat /tls/tls.crt); sleep 0.5; done"],
          volumeMounts: [{ name: "tls", mountPath: "/tls", readOnly: true }],
        },
      ],
      volumes: [{ name: "tls", secret: { secretName: "rotating" } }],
    });
    await waitPhase("secret-follow", ["Running"]);
    await waitFor("the first content", async () =>
      logOf("secret-follow", "main").includes("SEEN=first"),
    );
    await core.replaceNamespacedSecret({
      name: "rotating",
      namespace: NS,
      body: { metadata: { name: "rotating" }, stringData: { "tls.crt": "renewed" } },
    });
    await waitFor("the renewed content inside the running sandbox", async () =>
      logOf("secret-follow", "main").includes("SEEN=renewed"),
    );
    const pod = await getPod("secret-follow");
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    await core.deleteNamespacedPod({ name: "secret-follow", namespace: NS, gracePeriodSeconds: 0 });
  });

  it("gates Ready on the readiness probe", async () => {
    await createPod("ready", {
      containers: [
        {
          name: "web",
          image: KUBEVISOR_IMAGE,
          command: ["node", "-e"],
          args: [
            'let ok=false; setTimeout(()=>ok=true, 3000); require("http").createServer((q,r)=>{r.statusCode=ok?200:503;r.end()}).listen(8080, process.env.IP)',
          ],
          env: [{ name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
          ports: [{ name: "http", containerPort: 8080 }],
          readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
        },
      ],
    });
    const running = await waitPhase("ready", ["Running"]);
    expect(isReady(running)).toBe(false);
    const ready = await waitFor("ready pod", async () => {
      const p = await getPod("ready");
      return isReady(p) ? p : undefined;
    });
    expect(ready.status?.containerStatuses?.[0]?.ready).toBe(true);
    expect(ready.status?.containerStatuses?.[0]?.restartCount, logOf("ready", "web")).toBe(0);
  });

  it("restarts a container whose liveness probe fails", async () => {
    await createPod("liveness", {
      containers: [
        {
          name: "c",
          image: KUBEVISOR_IMAGE,
          command: ["sh", "-c", "echo started; sleep 600"],
          livenessProbe: {
            exec: { command: ["test", "-e", "/tmp/healthy"] },
            periodSeconds: 1,
            failureThreshold: 2,
          },
        },
      ],
    });
    const restarted = await waitFor("a restart", async () => {
      const p = await getPod("liveness");
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? p : undefined;
    });
    expect(
      restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode,
    ).toBeGreaterThan(128);
    expect(logOf("liveness", "c").match(/started/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it("turns exit codes into Succeeded/Failed with termination messages", async () => {
    await createPod("exit-ok", {
      restartPolicy: "Never",
      containers: [
        {
          name: "c",
          image: KUBEVISOR_IMAGE,
          command: ["sh", "-c", "echo all good > /dev/termination-log"],
        },
      ],
    });
    await createPod("exit-fail", {
      restartPolicy: "Never",
      containers: [
        {
          name: "c",
          image: KUBEVISOR_IMAGE,
          command: ["sh", "-c", "echo last words from the log; exit 3"],
          terminationMessagePolicy: "FallbackToLogsOnError",
        },
      ],
    });
    const ok = await waitPhase("exit-ok", ["Succeeded", "Failed"]);
    expect(ok.status?.phase).toBe("Succeeded");
    expect(ok.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: "Completed",
      message: "all good",
    });
    const failed = await waitPhase("exit-fail", ["Succeeded", "Failed"]);
    expect(failed.status?.phase).toBe("Failed");
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 3,
      reason: "Error",
      message: "last words from the log",
    });
  });

  it("deletes gracefully: SIGTERM reaches the process, then the deletion is confirmed", async () => {
    await createPod("graceful", {
      terminationGracePeriodSeconds: 20,
      containers: [
        {
          name: "c",
          image: KUBEVISOR_IMAGE,
          command: [
            "sh",
            "-c",
            "trap 'echo got SIGTERM; sleep 1; echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done",
          ],
        },
      ],
    });
    await waitFor(
      "graceful running",
      async () =>
        (await getPod("graceful")).status?.phase === "Running" &&
        logOf("graceful", "c").includes("up"),
    );
    const started = Date.now();
    await core.deleteNamespacedPod({ name: "graceful", namespace: NS });
    await waitGone("graceful");
    // It took the trap's second, not the grace period's twenty.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(logOf("graceful", "c")).toContain("got SIGTERM\nbye");
  });

  it("confirms deletion of a pod whose image is unknown, after ErrImagePull naming it", async () => {
    await createPod("unknown-image", {
      containers: [{ name: "c", image: "registry.example/nope:1", command: ["true"] }],
    });
    const pod = await waitFor("image pull error", async () => {
      const p = await getPod("unknown-image");
      const reason = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return reason === "ErrImagePull" || reason === "ImagePullBackOff" ? p : undefined;
    });
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain(
      "registry.example/nope:1",
    );
    await core.deleteNamespacedPod({ name: "unknown-image", namespace: NS });
    await waitGone("unknown-image");
  });

  it("gives pods distinct loopback IPs that talk over TCP", async () => {
    const ipEnv = [{ name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }];
    await createPod("server", {
      nodeName: NODE1,
      containers: [
        {
          name: "c",
          image: KUBEVISOR_IMAGE,
          command: [
            "node",
            "-e",
            'require("net").createServer(s=>{s.on("error",()=>{});s.end("hi from "+process.env.IP+"\\n")}).listen(9000, process.env.IP)',
          ],
          env: ipEnv,
          readinessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1 },
        },
      ],
    });
    const server = await waitFor("server ready", async () => {
      const p = await getPod("server");
      return isReady(p) ? p : undefined;
    });
    const serverIP = server.status?.podIP ?? "";
    await createPod("client", {
      nodeName: NODE2,
      restartPolicy: "Never",
      containers: [
        {
          name: "c",
          image: KUBEVISOR_IMAGE,
          command: [
            "node",
            "-e",
            `require("net").connect({host:"${serverIP}",port:9000,localAddress:process.env.IP}).on("data",d=>process.stdout.write(process.env.IP+" got: "+d))`,
          ],
          env: ipEnv,
        },
      ],
    });
    const client = await waitPhase("client", ["Succeeded", "Failed"]);
    expect(client.status?.podIP).not.toBe(serverIP);
    expect(logOf("client", "c")).toBe(`${client.status?.podIP} got: hi from ${serverIP}\n`);
  });

  it("lets kubectl drain a node with a plain pod", async () => {
    await createPod("drained", {
      nodeName: NODE1,
      containers: [{ name: "c", image: KUBEVISOR_IMAGE, command: ["sleep", "600"] }],
    });
    await waitPhase("drained", ["Running"]);
    const { stdout } = await run(
      "kubectl",
      ["drain", NODE1, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=60s"],
      { env: process.env },
    );
    expect(stdout).toContain("drained");
    await waitGone("drained");
    const node = await core.readNode({ name: NODE1 });
    expect(node.spec?.unschedulable).toBe(true);
    await run("kubectl", ["uncordon", NODE1], { env: process.env });
  });

  it("stops without leaving a process behind, pods reported Failed", async () => {
    await createPod("survivor", {
      containers: [{ name: "c", image: KUBEVISOR_IMAGE, command: ["sleep", "600"] }],
    });
    await waitPhase("survivor", ["Running"]);
    expect(processesOfCluster().length).toBeGreaterThan(0);
    await stopLocalNodes({ clusterDir });
    expect(processesOfCluster()).toEqual([]);
    const pod = await getPod("survivor");
    expect(pod.status).toMatchObject({ phase: "Failed", reason: "Terminated" });
    for (const name of NODES) {
      const node = await core.readNode({ name });
      expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("False");
    }
  });
});
