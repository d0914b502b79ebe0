import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ContainerConfigError } from "../../../../src/local/node/env.js";
import {
  containerMounts,
  referencedObjects,
  renderVolume,
  tokenRequests,
} from "../../../../src/local/node/volumes.js";
import { container, facts } from "./fixtures.js";

const inputs = {
  configMaps: new Map<string, V1ConfigMap | undefined>([
    ["cfg", { data: { a: "1", b: "2" } }],
    ["kube-root-ca.crt", { data: { "ca.crt": "PEM" } }],
  ]),
  secrets: new Map<string, V1Secret | undefined>([
    ["sec", { data: { key: Buffer.from("secret!").toString("base64") } }],
  ]),
  tokens: new Map([["api/token", "jwt"]]),
};
const text = (files: { path: string; content: Buffer; mode: number }[] | undefined) =>
  files?.map((f) => ({ path: f.path, content: f.content.toString(), mode: f.mode }));

describe("renderVolume", () => {
  it("writes every ConfigMap key, or the chosen items with their modes", () => {
    expect(text(renderVolume({ name: "v", configMap: { name: "cfg" } }, facts(), inputs))).toEqual([
      { path: "a", content: "1", mode: 0o644 },
      { path: "b", content: "2", mode: 0o644 },
    ]);
    const items = {
      name: "v",
      configMap: {
        name: "cfg",
        defaultMode: 0o600,
        items: [
          { key: "b", path: "sub/b.txt", mode: 0o400 },
          { key: "a", path: "a" },
        ],
      },
    };
    expect(text(renderVolume(items, facts(), inputs))).toEqual([
      { path: "sub/b.txt", content: "2", mode: 0o400 },
      { path: "a", content: "1", mode: 0o600 },
    ]);
  });

  it("decodes Secret data", () => {
    expect(
      text(renderVolume({ name: "v", secret: { secretName: "sec" } }, facts(), inputs)),
    ).toEqual([{ path: "key", content: "secret!", mode: 0o644 }]);
  });

  it("fails on a missing object unless optional", () => {
    expect(() =>
      renderVolume({ name: "v", secret: { secretName: "nope" } }, facts(), inputs),
    ).toThrow(ContainerConfigError);
    expect(
      renderVolume({ name: "v", secret: { secretName: "nope", optional: true } }, facts(), inputs),
    ).toEqual([]);
  });

  it("renders downwardAPI fields, including one annotation by key", () => {
    const v = {
      name: "info",
      downwardAPI: {
        items: [
          { path: "labels", fieldRef: { fieldPath: "metadata.labels" } },
          { path: "note", fieldRef: { fieldPath: "metadata.annotations['example.com/note']" } },
          {
            path: "mem",
            resourceFieldRef: { containerName: "c", resource: "limits.memory", divisor: "1Gi" },
          },
        ],
      },
    };
    expect(text(renderVolume(v, facts(), inputs))?.map((f) => f.content)).toEqual([
      'app="web"\ntier="front"',
      "hi",
      "8",
    ]);
  });

  it("renders the service-account projected volume, token private", () => {
    const v = {
      name: "api",
      projected: {
        sources: [
          { serviceAccountToken: { path: "token", expirationSeconds: 3607 } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          {
            downwardAPI: {
              items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }],
            },
          },
        ],
      },
    };
    expect(tokenRequests(v)).toEqual([
      { id: "api/token", audience: undefined, expirationSeconds: 3607 },
    ]);
    expect(text(renderVolume(v, facts(), inputs))).toEqual([
      { path: "token", content: "jwt", mode: 0o600 },
      { path: "ca.crt", content: "PEM", mode: 0o644 },
      { path: "namespace", content: "apps", mode: 0o644 },
    ]);
  });

  it("rejects paths escaping the volume", () => {
    const v = {
      name: "v",
      configMap: { name: "cfg", items: [{ key: "a", path: "../../etc/passwd" }] },
    };
    expect(() => renderVolume(v, facts(), inputs)).toThrow(/invalid volume path/);
  });

  it("leaves other kinds to the worker", () => {
    expect(renderVolume({ name: "v", emptyDir: {} }, facts(), inputs)).toBeUndefined();
  });
});

describe("containerMounts", () => {
  const hosts = new Map([
    ["data", { path: "/state/pod/volumes/data", readOnly: false }],
    ["cfg", { path: "/state/pod/volumes/cfg", readOnly: true }],
  ]);

  it("binds each volumeMount, with subPath and read-only where asked or forced", () => {
    const c = container({
      volumeMounts: [
        { name: "data", mountPath: "/data" },
        { name: "data", mountPath: "/logs", subPath: "logs", readOnly: true },
        { name: "cfg", mountPath: "/etc/cfg" },
      ],
    });
    expect(containerMounts(c, hosts)).toEqual([
      { source: "/state/pod/volumes/data", dest: "/data", readOnly: false },
      { source: "/state/pod/volumes/data/logs", dest: "/logs", readOnly: true },
      { source: "/state/pod/volumes/cfg", dest: "/etc/cfg", readOnly: true },
    ]);
  });

  it("names a mount whose volume does not exist", () => {
    const c = container({ volumeMounts: [{ name: "gone", mountPath: "/x" }] });
    expect(() => containerMounts(c, hosts)).toThrow(/no volume named gone/);
  });
});

describe("referencedObjects", () => {
  it("collects ConfigMaps and Secrets from env, envFrom and volumes", () => {
    const c = container({
      envFrom: [{ secretRef: { name: "s1" } }],
      env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "c1", key: "k" } } }],
    });
    const r = referencedObjects(
      [c],
      [
        { name: "a", configMap: { name: "c2" } },
        { name: "b", projected: { sources: [{ secret: { name: "s2" } }] } },
      ],
    );
    expect([...r.configMaps].sort()).toEqual(["c1", "c2"]);
    expect([...r.secrets].sort()).toEqual(["s1", "s2"]);
  });
});
