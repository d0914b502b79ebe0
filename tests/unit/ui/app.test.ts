import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { VirtualMachine } from "../../../src/api/virtualmachine.js";
import { age, bytes, fieldOf, progressPercent } from "../../../src/ui/app/format.js";
import { cloudConfig, DEFAULT_FORM, vmFromForm } from "../../../src/ui/app/manifest.js";
import { parseRoute } from "../../../src/ui/app/route.js";

describe("routes", () => {
  it("maps hashes to pages", () => {
    expect(parseRoute("", "dflt")).toEqual({ page: "list", namespace: "dflt" });
    expect(parseRoute("#/ns/team-a", "d")).toEqual({ page: "list", namespace: "team-a" });
    expect(parseRoute("#/ns/team-a/vm/web%201", "d")).toEqual({
      page: "vm",
      namespace: "team-a",
      name: "web 1",
    });
    expect(parseRoute("#/ns/team-a/create", "d")).toEqual({ page: "create", namespace: "team-a" });
  });
});

describe("format", () => {
  it("ages like kubectl", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(age("2026-01-01T11:59:30Z", now)).toBe("30s");
    expect(age("2026-01-01T11:50:00Z", now)).toBe("10m");
    expect(age("2026-01-01T06:00:00Z", now)).toBe("6h");
    expect(age("2025-12-20T12:00:00Z", now)).toBe("12d");
  });
  it("prints bytes and migration progress", () => {
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(512 * 1024 * 1024)).toBe("512 MiB");
    expect(progressPercent({ dataTotalBytes: 200, dataRemainingBytes: 50 })).toBe(75);
    expect(progressPercent({ dataTotalBytes: 200, dataProcessedBytes: 20 })).toBe(10);
    expect(progressPercent(undefined, "Succeeded")).toBe(100);
    expect(progressPercent(undefined, "Running")).toBeUndefined();
  });
  it("places API error causes on form fields", () => {
    expect(fieldOf("spec.memory.size")).toBe("memory");
    expect(fieldOf(".spec.cpu.cores")).toBe("cores");
    expect(fieldOf("metadata.name")).toBe("name");
    expect(fieldOf("spec.runStrategy")).toBeUndefined();
  });
});

describe("create form", () => {
  it("builds a VM the API schema accepts", () => {
    const vm = vmFromForm(
      { ...DEFAULT_FORM, name: "web", cores: "2", sshKey: "ssh-ed25519 AAAA me@x" },
      "team-a",
    );
    const parsed = VirtualMachine.parse(vm);
    expect(parsed.spec.cpu.cores).toBe(2);
    expect(parsed.metadata.namespace).toBe("team-a");
  });
  it("passes bad values on for the API server to name", () => {
    const vm = vmFromForm({ ...DEFAULT_FORM, name: "web", memory: "12Q" }, "ns");
    expect(VirtualMachine.safeParse(vm).success).toBe(false);
  });
  it("writes the user and key as YAML strings (no injection through the form)", () => {
    const doc = parse(
      cloudConfig('evil"\n  - name: root', "ssh-ed25519 AAAA\nruncmd: [reboot]"),
    ) as {
      users: { name: string; ssh_authorized_keys: string[] }[];
      runcmd?: unknown;
    };
    expect(doc.users).toHaveLength(1);
    expect(doc.users[0]?.name).toBe('evil"\n  - name: root');
    expect(doc.runcmd).toBeUndefined();
  });
});
