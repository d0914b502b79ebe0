import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { baseNames, mmdebstrapArgs } from "../../../../src/local/image/bases.js";
import { progressLines } from "../../../../src/local/image/buildah.js";
import {
  appVersion,
  BUILD_CA_PATH,
  npmCaArgs,
  npmVersion,
} from "../../../../src/local/image/index.js";
import {
  BUILD_FILES,
  CONTEXT_PATHS,
  hashInputs,
  listInputFiles,
} from "../../../../src/local/image/inputs.js";
import { nodeRuntimeVersion } from "../../../../src/local/image/node-runtime.js";

const root = join(import.meta.dirname, "..", "..", "..", "..");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-inputs-"));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("image inputs", () => {
  it("hash exactly the build context: .dockerignore allows the same paths", () => {
    const allowed = readFileSync(join(root, ".dockerignore"), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("!"))
      .map((l) => l.slice(1));
    expect(allowed.sort()).toEqual([...CONTEXT_PATHS].sort());
    expect(readFileSync(join(root, ".dockerignore"), "utf8")).toMatch(/^\*$/m);
  });

  it("give the same key for the same tree and a new one when a source or the Dockerfile changes", () => {
    const files = {
      Dockerfile: "FROM x\n",
      "package.json": "{}",
      "src/a.ts": "a",
      "src/b/c.ts": "c",
    };
    const a = tree(files);
    const b = tree(files);
    expect(hashInputs(a, {})).toBe(hashInputs(b, {}));
    expect(listInputFiles(a, [...BUILD_FILES, ...CONTEXT_PATHS])).toEqual([
      "Dockerfile",
      "package.json",
      "src/a.ts",
      "src/b/c.ts",
    ]);
    writeFileSync(join(b, "src", "b", "c.ts"), "changed");
    expect(hashInputs(b, {})).not.toBe(hashInputs(a, {}));
    const c = tree({ ...files, Dockerfile: "FROM y\n" });
    expect(hashInputs(c, {})).not.toBe(hashInputs(a, {}));
    expect(hashInputs(a, { node: "24.1.0" })).not.toBe(hashInputs(a, { node: "24.2.0" }));
  });

  it("ignore files outside the context (tests, node_modules)", () => {
    const a = tree({ "src/a.ts": "a" });
    const b = tree({ "src/a.ts": "a", "tests/x.test.ts": "x", "node_modules/m/i.js": "m" });
    expect(hashInputs(a, {})).toBe(hashInputs(b, {}));
  });
});

describe("image versions", () => {
  it("tags the image with the chart's appVersion, never latest", () => {
    expect(appVersion(root)).toMatch(/^\d+\.\d+\.\d+/);
    const bad = tree({ "charts/kubevisor/Chart.yaml": 'appVersion: "latest"\n' });
    expect(() => appVersion(bad)).toThrow(/appVersion must be a version/);
  });

  it("pins Node.js 24 and the Dockerfile's default node base carries the same version", () => {
    const v = nodeRuntimeVersion(root);
    expect(v).toMatch(/^24\.\d+\.\d+$/);
    expect(npmVersion(root)).toMatch(/^\d+\.\d+\.\d+$/);
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toContain(`ARG NODE_IMAGE=docker.io/library/node:${v}-bookworm-slim`);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
  });

  it("keys the local bases by mirror and versions", () => {
    const m = { debian: "http://a/debian", security: "http://a/debian-security" };
    const v = { node: "24.22.3", npm: "11.19.1" };
    const names = baseNames(m, v);
    expect(names.debian).toMatch(/^localhost\/kubevisor-build\/debian:bookworm-[0-9a-f]{12}$/);
    expect(names.node).toContain("node:24.22.3-npm11.19.1-bookworm-");
    expect(baseNames({ ...m, debian: "http://b/debian" }, v).debian).not.toBe(names.debian);
    expect(mmdebstrapArgs(m)).toContain("deb http://a/debian-security bookworm-security main");
  });
});

describe("npm's CA during the build", () => {
  it("mounts the host's extra CA file read-only for the build only, and nothing when unset", () => {
    expect(npmCaArgs(undefined)).toEqual([]);
    expect(npmCaArgs("")).toEqual([]);
    expect(npmCaArgs("/etc/ssl/certs/ca-certificates.crt")).toEqual([
      "--volume",
      `/etc/ssl/certs/ca-certificates.crt:${BUILD_CA_PATH}:ro`,
      "--build-arg",
      `NODE_EXTRA_CA_CERTS=${BUILD_CA_PATH}`,
    ]);
  });
});

describe("build progress", () => {
  it("shows the current step, then the latest output line under it", () => {
    const seen: string[] = [];
    const onLine = progressLines({
      step() {},
      update: (t) => seen.push(t),
      note() {},
      done() {},
    });
    onLine("[1/4] STEP 4/4: RUN npm ci --no-audit --no-fund");
    onLine("");
    onLine("\x1b[1m\x1b[32madded\x1b[39m\x1b[22m 171 packages in 3s");
    expect(seen).toEqual([
      "[1/4] STEP 4/4: RUN npm ci --no-audit --no-fund",
      "[1/4] STEP 4/4: RUN npm ci --no-audit --no-fund | added 171 packages in 3s",
    ]);
  });
});
