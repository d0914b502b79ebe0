import { describe, expect, it } from "vitest";
import {
  Acceleration,
  EvictionStrategy,
  graphicsEnabled,
  MachineType,
  MigrationPhase,
  quantityToBytes,
  quantityToMiB,
  RunStrategy,
  VirtualMachine,
  VirtualMachineMigration,
  VirtualMachinePhase,
  VirtualMachineSpec,
} from "../../../src/api/index.js";
import { EXAMPLES_DIR, INVALID_DIR, loadManifests } from "../../fixtures/manifests.js";

const schemaFor = (kind: unknown) =>
  kind === "VirtualMachineMigration" ? VirtualMachineMigration : VirtualMachine;

const KERNEL_BOOT = { kernel: { image: "img" } };

describe("VirtualMachine spec defaults", () => {
  it("fills every default from a minimal spec", () => {
    const spec = VirtualMachineSpec.parse({ memory: { size: "256Mi" }, boot: KERNEL_BOOT });
    expect(spec).toEqual({
      boot: { kernel: { image: "img", kernelPath: "/boot/vmlinuz" } },
      runStrategy: "Always",
      evictionStrategy: "LiveMigrate",
      cpu: { cores: 1 },
      memory: { size: "256Mi" },
      machine: { type: "q35" },
      acceleration: "Auto",
      disks: [],
      network: { ports: [] },
      terminationGracePeriodSeconds: 30,
    });
  });

  it("defaults nested fields of disks, kernel and ports", () => {
    const spec = VirtualMachineSpec.parse({
      memory: { size: 1073741824 },
      boot: { kernel: { image: "img" } },
      disks: [{ name: "root", containerDisk: { image: "img" } }],
      network: { ports: [{ name: "ssh", port: 22 }] },
    });
    expect(spec.boot?.kernel.kernelPath).toBe("/boot/vmlinuz");
    expect(spec.disks[0]?.containerDisk?.path).toBe("/disk/disk.img");
    expect(spec.network.ports[0]?.protocol).toBe("TCP");
  });
});

describe("enums accept every documented value and nothing else", () => {
  const cases = [
    [RunStrategy, ["Always", "RerunOnFailure", "Once", "Manual", "Halted"]],
    [EvictionStrategy, ["LiveMigrate", "LiveMigrateIfPossible", "None"]],
    [MachineType, ["q35", "microvm"]],
    [Acceleration, ["Auto", "KVM", "Emulation"]],
    [
      VirtualMachinePhase,
      [
        "Pending",
        "Scheduling",
        "Starting",
        "Running",
        "Migrating",
        "Stopping",
        "Stopped",
        "Succeeded",
        "Failed",
      ],
    ],
    [MigrationPhase, ["Pending", "Scheduling", "TargetReady", "Running", "Succeeded", "Failed"]],
  ] as const;
  for (const [schema, values] of cases) {
    it(values.join("|"), () => {
      expect(schema.options).toEqual(values);
      for (const v of values) expect(schema.parse(v)).toBe(v);
      const swapped =
        values[0] === values[0].toLowerCase() ? values[0].toUpperCase() : values[0].toLowerCase();
      expect(schema.safeParse(swapped).success).toBe(false);
      expect(schema.safeParse("").success).toBe(false);
    });
  }
});

describe("quantities", () => {
  it.each([
    ["64Mi", 64 * 1024 ** 2],
    ["1Gi", 1024 ** 3],
    ["0.5Gi", 512 * 1024 ** 2],
    ["1G", 1e9],
    ["128974848", 128974848],
    [1024, 1024],
    ["1e3", 1000],
    ["1500m", 2],
  ])("%s is %d bytes", (q, bytes) => {
    expect(quantityToBytes(q)).toBe(bytes);
  });

  it.each(["lots", "", "1 Gi", "Gi", "1GB", "1.2.3Mi", "-"])("refuses %j", (q) => {
    expect(() => quantityToBytes(q)).toThrow(/invalid quantity/);
    expect(VirtualMachineSpec.safeParse({ memory: { size: q } }).success).toBe(false);
  });

  it("rounds MiB up", () => {
    expect(quantityToMiB("1.5Mi")).toBe(2);
    expect(quantityToMiB("256Mi")).toBe(256);
  });

  it("enforces the 64Mi memory floor, naming the field", () => {
    const result = VirtualMachineSpec.safeParse({ memory: { size: "63Mi" } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(["memory", "size"]);
    expect(
      VirtualMachineSpec.safeParse({ memory: { size: "64Mi" }, boot: KERNEL_BOOT }).success,
    ).toBe(true);
  });
});

describe("boot sources", () => {
  const disk = (source: object) => ({ name: "d", ...source });
  it.each([
    ["a kernel", { boot: KERNEL_BOOT }],
    ["a containerDisk", { disks: [disk({ containerDisk: { image: "img" } })] }],
    ["a PVC", { disks: [disk({ persistentVolumeClaim: { claimName: "c" } })] }],
  ])("boots from %s", (_, extra) => {
    const result = VirtualMachineSpec.safeParse({ memory: { size: "256Mi" }, ...extra });
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it.each([
    ["no disks", {}],
    [
      "only a blank disk and a seed",
      {
        disks: [disk({ emptyDisk: { size: "1Gi" } }), { name: "ci", cloudInitNoCloud: {} }],
      },
    ],
  ])("refuses %s and names spec.disks", (_, extra) => {
    const result = VirtualMachineSpec.safeParse({ memory: { size: "256Mi" }, ...extra });
    expect(result.error?.issues.map((i) => i.path)).toEqual([["disks"]]);
  });

  it("refuses firmware boot on microvm, naming machine.type", () => {
    const result = VirtualMachineSpec.safeParse({
      memory: { size: "256Mi" },
      machine: { type: "microvm" },
      disks: [disk({ containerDisk: { image: "img" } })],
    });
    expect(result.error?.issues.map((i) => i.path)).toEqual([["machine", "type"]]);
  });

  it("gives q35 a display and microvm none; refuses one on microvm, naming graphics.enabled", () => {
    const base = { memory: { size: "256Mi" }, boot: KERNEL_BOOT };
    expect(graphicsEnabled(VirtualMachineSpec.parse(base))).toBe(true);
    expect(
      graphicsEnabled(VirtualMachineSpec.parse({ ...base, graphics: { enabled: false } })),
    ).toBe(false);
    const micro = { ...base, machine: { type: "microvm" } };
    expect(graphicsEnabled(VirtualMachineSpec.parse(micro))).toBe(false);
    const bad = VirtualMachineSpec.safeParse({ ...micro, graphics: { enabled: true } });
    expect(bad.error?.issues.map((i) => i.path)).toEqual([["graphics", "enabled"]]);
  });

  it("refuses secureBoot without UEFI, and userData beside its Secret", () => {
    const base = { memory: { size: "256Mi" }, boot: KERNEL_BOOT };
    const fw = VirtualMachineSpec.safeParse({ ...base, firmware: { secureBoot: true } });
    expect(fw.error?.issues.map((i) => i.path)).toEqual([["firmware", "secureBoot"]]);
    const ci = VirtualMachineSpec.safeParse({
      ...base,
      disks: [
        { name: "ci", cloudInitNoCloud: { userData: "x", userDataSecretRef: { name: "s" } } },
      ],
    });
    expect(ci.success).toBe(false);
  });
});

describe("manifests", () => {
  it.each(loadManifests(EXAMPLES_DIR).map((m) => [m.file, m] as const))(
    "example %s is valid",
    (_, m) => {
      const result = schemaFor(m.doc.kind).safeParse(m.doc);
      expect(result.error?.issues ?? []).toEqual([]);
    },
  );

  // The apiserver prunes unknown fields before the operator sees an object, so zod only has
  // to agree with the CRD on everything else.
  const invalid = loadManifests(INVALID_DIR).filter((m) => !m.file.startsWith("unknown-field"));
  it.each(invalid.map((m) => [m.file, m] as const))(
    "invalid %s is refused at the named field",
    (_, m) => {
      const result = schemaFor(m.doc.kind).safeParse(m.doc);
      expect(result.success).toBe(false);
      const paths = (result.error?.issues ?? []).map((i) =>
        i.path
          .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
          .join("")
          .slice(1),
      );
      expect(paths.some((p) => p.startsWith(m.expect ?? "?"))).toBe(true);
    },
  );
});
