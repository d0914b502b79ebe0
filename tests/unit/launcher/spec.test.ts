import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseLaunchedVm, readLaunchedVm, SpecError } from "../../../src/launcher/spec.js";
import { annotationJson } from "./fixtures.js";

/** The least a VM needs: memory and something to boot. */
const minimal = {
  memory: { size: "512Mi" },
  disks: [{ name: "root", containerDisk: { image: "example/debian:12" } }],
};

describe("parseLaunchedVm", () => {
  it("reads identity and spec, with the API's defaults applied", () => {
    const vm = parseLaunchedVm(annotationJson(minimal));
    expect(vm).toMatchObject({ name: "web", namespace: "prod", uid: "0b6b7c1e-uid" });
    expect(vm.spec.cpu.cores).toBe(1);
    expect(vm.spec.terminationGracePeriodSeconds).toBe(30);
  });

  it("names the offending field", () => {
    expect(() => parseLaunchedVm(annotationJson({ memory: { size: "1Mi" } }))).toThrow(
      /spec\.memory\.size: memory\.size must be at least 64Mi/,
    );
    expect(() => parseLaunchedVm(annotationJson({}))).toThrow(/spec\.memory/);
  });

  it("requires the identity the launcher reports and seeds with", () => {
    expect(() => parseLaunchedVm(annotationJson(minimal, { uid: undefined }))).toThrow(
      /metadata\.uid/,
    );
  });

  it("refuses text that is not JSON", () => {
    expect(() => parseLaunchedVm("{nope")).toThrow(SpecError);
  });

  it("reports an unreadable file as a spec error", async () => {
    await expect(readLaunchedVm("/nonexistent/vm.json")).rejects.toThrow(/cannot read/);
    const dir = mkdtempSync(join(tmpdir(), "kv-spec-"));
    writeFileSync(join(dir, "vm.json"), annotationJson(minimal));
    expect((await readLaunchedVm(join(dir, "vm.json"))).name).toBe("web");
  });
});
