import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { certificateSpecs, renderExtensions, subject } from "../../../src/local/certs.js";
import { renderKubeconfig } from "../../../src/local/kubeconfig.js";

describe("certificate specs", () => {
  const byName = new Map(certificateSpecs().map((s) => [s.name, s]));

  it("makes the admin a member of system:masters", () => {
    expect(subject(byName.get("admin") as never)).toBe("/O=system:masters/CN=kubevisor-admin");
  });

  it("names the controller-manager and scheduler as RBAC's bootstrap roles expect", () => {
    expect(byName.get("kube-controller-manager")?.cn).toBe("system:kube-controller-manager");
    expect(byName.get("kube-scheduler")?.cn).toBe("system:kube-scheduler");
  });

  it("signs the front-proxy client with the front-proxy CA, everything else with the cluster CA", () => {
    for (const s of certificateSpecs()) {
      expect(s.signer).toBe(s.name === "front-proxy-client" ? "front-proxy-ca" : "ca");
    }
  });

  it("renders serving extensions with loopback and in-cluster SANs for the apiserver", () => {
    const ext = renderExtensions(byName.get("apiserver") as never);
    expect(ext).toContain("extendedKeyUsage = serverAuth\n");
    expect(ext).toContain("DNS:kubernetes.default.svc");
    expect(ext).toContain("IP:127.0.0.1, IP:10.96.0.1");
    expect(ext).toContain("basicConstraints = critical, CA:FALSE");
  });

  it("renders client-only extensions without SANs", () => {
    const ext = renderExtensions(byName.get("admin") as never);
    expect(ext).toContain("extendedKeyUsage = clientAuth\n");
    expect(ext).not.toContain("subjectAltName");
  });
});

describe("renderKubeconfig", () => {
  const input = {
    name: "kubevisor-default",
    server: "https://127.0.0.1:6443",
    caPem: "CA",
    certPem: "CERT",
    keyPem: "KEY",
    user: "kubevisor-admin",
  };

  it("embeds the certificates and selects its context", () => {
    const doc = parse(renderKubeconfig(input));
    expect(doc["current-context"]).toBe("kubevisor-default");
    expect(doc.clusters[0].cluster["certificate-authority-data"]).toBe(
      Buffer.from("CA").toString("base64"),
    );
    expect(doc.users[0].user["client-key-data"]).toBe(Buffer.from("KEY").toString("base64"));
  });

  it("loads in @kubernetes/client-node", () => {
    const kc = new KubeConfig();
    kc.loadFromString(renderKubeconfig(input));
    expect(kc.getCurrentCluster()?.server).toBe("https://127.0.0.1:6443");
    expect(kc.getCurrentUser()?.name).toBe("kubevisor-admin");
  });
});
