import { describe, expect, it } from "vitest";
import {
  ContainerConfigError,
  expand,
  resolveArgv,
  resolveEnv,
} from "../../../../src/local/node/env.js";
import { container, facts } from "./fixtures.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const lookups = {
  configMaps: new Map([["cfg", { data: { greeting: "hello", "bad key": "x" } }]]),
  secrets: new Map([["sec", { data: { password: b64("s3cret") } }]]),
};

describe("expand", () => {
  const vars = new Map([["A", "1"]]);
  it.each([
    ["$(A)", "1"],
    ["x$(A)y", "x1y"],
    ["$(B)", "$(B)"],
    ["$$(A)", "$(A)"],
    ["$(A", "$(A"],
    ["a$b", "a$b"],
    ["cost $", "cost $"],
  ])("%s → %s", (input, out) => expect(expand(input, vars)).toBe(out));
});

describe("resolveEnv", () => {
  it("resolves downward API, ConfigMap and Secret references in kubelet order", () => {
    const c = container({
      envFrom: [{ configMapRef: { name: "cfg" }, prefix: "CFG_" }],
      env: [
        { name: "NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
        { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "HOST", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
        { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        {
          name: "NOTE",
          valueFrom: { fieldRef: { fieldPath: "metadata.annotations['example.com/note']" } },
        },
        { name: "G", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } },
        { name: "P", valueFrom: { secretKeyRef: { name: "sec", key: "password" } } },
        { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
        { name: "URL", value: "http://$(IP):80" },
        { name: "PORT", value: "override" },
      ],
    });
    const env = resolveEnv(c, facts(), lookups, { PATH: "/bin", PORT: "base" });
    expect(Object.fromEntries(env)).toEqual({
      PATH: "/bin",
      PORT: "override",
      CFG_greeting: "hello",
      NAME: "web",
      NS: "apps",
      UID: "uid-1",
      IP: "127.1.0.7",
      HOST: "127.0.0.1",
      NODE: "kubevisor-node-1",
      SA: "sa",
      APP: "web",
      NOTE: "hi",
      G: "hello",
      P: "s3cret",
      CPU: "2",
      URL: "http://127.1.0.7:80",
    });
  });

  it("skips optional references that do not resolve and fails on required ones", () => {
    const optional = container({
      env: [
        { name: "X", valueFrom: { configMapKeyRef: { name: "nope", key: "k", optional: true } } },
      ],
    });
    expect(resolveEnv(optional, facts(), lookups, {}).has("X")).toBe(false);
    const required = container({
      env: [{ name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k" } } }],
    });
    expect(() => resolveEnv(required, facts(), lookups, {})).toThrow(ContainerConfigError);
    expect(() => resolveEnv(required, facts(), lookups, {})).toThrow('secret "nope" not found');
  });
});

describe("resolveArgv", () => {
  it("is command then args, with $(VAR) expanded", () => {
    const c = container({ command: ["echo", "$(A)"], args: ["b", "$$(A)"] });
    expect(resolveArgv(c, "img", new Map([["A", "a"]]))).toEqual(["echo", "a", "b", "$(A)"]);
  });

  it("requires a command: our images have no entrypoint", () => {
    const c = container({ command: undefined, args: ["x"] });
    expect(() => resolveArgv(c, "kubevisor/kubevisor:latest", new Map())).toThrow(
      /no command.*kubevisor\/kubevisor:latest/,
    );
  });
});
