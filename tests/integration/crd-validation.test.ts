import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES_DIR, INVALID_DIR, loadManifests } from "../fixtures/manifests.js";

const exec = promisify(execFile);
const NS = "crd-validation";

async function kubectl(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec("kubectl", args, { env: process.env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

beforeAll(async () => {
  await kubectl("create", "namespace", NS);
});

afterAll(async () => {
  await kubectl("delete", "namespace", NS, "--wait=false");
});

describe("CRDs at kubectl apply", () => {
  const examples = [...new Set(loadManifests(EXAMPLES_DIR).map((m) => m.path))];
  it.each(examples)("accepts %s", async (path) => {
    const r = await kubectl("apply", "-n", NS, "--dry-run=server", "-f", path);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  const invalid = loadManifests(INVALID_DIR);
  it("has at least 15 distinct invalid manifests", () => {
    expect(invalid.length).toBeGreaterThanOrEqual(15);
  });

  it.each(invalid.map((m) => [m.file, m] as const))("refuses %s naming the field", async (_, m) => {
    const r = await kubectl("apply", "-n", NS, "-f", m.path);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(m.expect);
  });

  it("refuses a change of a migration's vmName", async () => {
    const manifest = (vmName: string) =>
      JSON.stringify({
        apiVersion: "kubevisor.io/v1alpha1",
        kind: "VirtualMachineMigration",
        metadata: { name: "immutable", namespace: NS },
        spec: { vmName },
      });
    const apply = (vmName: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = execFile(
          "kubectl",
          ["apply", "-f", "-"],
          { env: process.env },
          (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr }),
        );
        child.stdin?.end(manifest(vmName));
      });
    expect((await apply("one")).code).toBe(0);
    const second = await apply("two");
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain("spec.vmName");
    expect(second.stderr).toContain("vmName is immutable");
  });

  it("shows the printer columns", async () => {
    const vm = `${EXAMPLES_DIR}/vm.yaml`;
    expect((await kubectl("apply", "-n", NS, "-f", vm)).code).toBe(0);
    const vms = await kubectl("get", "vm", "-n", NS);
    expect(vms.stdout.split("\n")[0]).toMatch(/^NAME\s+PHASE\s+NODE\s+ACCEL\s+IP\s+AGE/);
    const migs = await kubectl("get", "vmmig", "-n", NS);
    expect(migs.stdout.split("\n")[0]).toMatch(/^NAME\s+VM\s+PHASE\s+SOURCE\s+TARGET\s+AGE/);
  });
});
