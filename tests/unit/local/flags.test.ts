import { describe, expect, it } from "vitest";
import {
  apiserverArgs,
  apiserverUrl,
  componentArgs,
  controllerManagerArgs,
  etcdArgs,
  healthUrl,
  type Ports,
  schedulerArgs,
} from "../../../src/local/flags.js";
import { COMPONENTS, clusterLayout } from "../../../src/local/layout.js";

const l = clusterLayout("/state/c");
const ports: Ports = {
  etcdClient: 2001,
  etcdPeer: 2002,
  apiserver: 2003,
  controllerManager: 2004,
  scheduler: 2005,
};

/** `--flag=value` list → map (a repeated flag would be lost, so assert there is none). */
function flags(args: string[]): Map<string, string> {
  const m = new Map(args.map((a) => [a.split("=")[0] as string, a.slice(a.indexOf("=") + 1)]));
  expect(m.size).toBe(args.length);
  return m;
}

describe("control-plane flags", () => {
  it("binds and advertises only loopback", () => {
    for (const c of COMPONENTS) {
      // The service-account issuer is an identifier put in tokens, never dialed.
      const joined = componentArgs(c, l, ports)
        .filter((a) => !a.startsWith("--service-account-issuer="))
        .join(" ");
      expect(joined).not.toMatch(/0\.0\.0\.0|localhost:/);
      for (const url of joined.match(/https?:\/\/[^\s,]+/g) ?? []) {
        expect(url).toMatch(/^https?:\/\/127\.0\.0\.1:/);
      }
    }
    expect(flags(apiserverArgs(l, ports)).get("--bind-address")).toBe("127.0.0.1");
    expect(flags(apiserverArgs(l, ports)).get("--advertise-address")).toBe("127.0.0.1");
    expect(flags(schedulerArgs(l, ports)).get("--bind-address")).toBe("127.0.0.1");
  });

  it("runs etcd as a single fast member in the state dir", () => {
    const f = flags(etcdArgs(l, ports));
    expect(f.get("--data-dir")).toBe("/state/c/etcd");
    expect(f.get("--listen-client-urls")).toBe("http://127.0.0.1:2001");
    expect(f.get("--initial-cluster")).toBe("kubevisor=http://127.0.0.1:2002");
    expect(f.has("--unsafe-no-fsync")).toBe(true);
  });

  it("configures the apiserver with RBAC, service accounts and the aggregation layer", () => {
    const f = flags(apiserverArgs(l, ports));
    expect(f.get("--etcd-servers")).toBe("http://127.0.0.1:2001");
    expect(f.get("--secure-port")).toBe("2003");
    expect(f.get("--authorization-mode")).toBe("Node,RBAC");
    expect(f.get("--allow-privileged")).toBe("true");
    expect(f.get("--service-cluster-ip-range")).toBe("10.96.0.0/16");
    expect(f.get("--client-ca-file")).toBe("/state/c/pki/ca.crt");
    expect(f.get("--service-account-key-file")).toBe("/state/c/pki/sa.pub");
    expect(f.get("--service-account-signing-key-file")).toBe("/state/c/pki/sa.key");
    expect(f.get("--requestheader-client-ca-file")).toBe("/state/c/pki/front-proxy-ca.crt");
    expect(f.get("--requestheader-allowed-names")).toBe("front-proxy-client");
    expect(f.get("--requestheader-username-headers")).toBe("X-Remote-User");
    expect(f.get("--requestheader-group-headers")).toBe("X-Remote-Group");
    expect(f.get("--requestheader-extra-headers-prefix")).toBe("X-Remote-Extra-");
    expect(f.get("--proxy-client-cert-file")).toBe("/state/c/pki/front-proxy-client.crt");
    expect(f.get("--enable-aggregator-routing")).toBe("true");
    expect(f.has("--enable-admission-plugins")).toBe(false);
  });

  it("gives the controller-manager its identity, the SA key and the root CA", () => {
    const f = flags(controllerManagerArgs(l, ports));
    const kubeconfig = "/state/c/kubeconfigs/kube-controller-manager.kubeconfig";
    expect(f.get("--kubeconfig")).toBe(kubeconfig);
    expect(f.get("--authentication-kubeconfig")).toBe(kubeconfig);
    expect(f.get("--leader-elect")).toBe("false");
    expect(f.get("--controllers")).toBe("*");
    expect(f.get("--use-service-account-credentials")).toBe("true");
    expect(f.get("--service-account-private-key-file")).toBe("/state/c/pki/sa.key");
    expect(f.get("--root-ca-file")).toBe("/state/c/pki/ca.crt");
    expect(f.get("--secure-port")).toBe("2004");
  });

  it("gives the scheduler its own identity", () => {
    const f = flags(schedulerArgs(l, ports));
    expect(f.get("--kubeconfig")).toBe("/state/c/kubeconfigs/kube-scheduler.kubeconfig");
    expect(f.get("--tls-cert-file")).toBe("/state/c/pki/kube-scheduler.crt");
    expect(f.get("--leader-elect")).toBe("false");
    expect(f.get("--secure-port")).toBe("2005");
  });

  it("probes each component where it reports health", () => {
    expect(apiserverUrl(ports)).toBe("https://127.0.0.1:2003");
    expect(healthUrl("etcd", ports)).toBe("http://127.0.0.1:2001/health");
    expect(healthUrl("kube-apiserver", ports)).toBe("https://127.0.0.1:2003/readyz");
    expect(healthUrl("kube-controller-manager", ports)).toBe("https://127.0.0.1:2004/healthz");
    expect(healthUrl("kube-scheduler", ports)).toBe("https://127.0.0.1:2005/healthz");
  });
});
