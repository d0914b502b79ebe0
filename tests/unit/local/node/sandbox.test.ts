import { describe, expect, it } from "vitest";
import { bwrapArgs, type SandboxSpec } from "../../../../src/local/node/sandbox.js";

const spec: SandboxSpec = {
  host: {
    dirs: new Map([
      ["/usr", null],
      ["/bin", "usr/bin"],
    ]),
    etc: ["ssl", "passwd"],
  },
  hostname: "web",
  image: [{ source: "/src/kubevisor", dest: "/app" }],
  podEtc: [{ source: "/pod/etc/hosts", dest: "/etc/hosts" }],
  tmpDir: "/pod/c/tmp",
  terminationLog: { source: "/pod/c/termination-log", dest: "/dev/termination-log" },
  mounts: [
    { source: "/pod/volumes/data", dest: "/data", readOnly: false },
    { source: "/pod/volumes/cfg", dest: "/etc/cfg", readOnly: true },
  ],
  devices: ["/dev/kvm"],
  env: new Map([["A", "1"]]),
  workingDir: "/app",
  argv: ["node", "main.js", "--flag"],
};

/** Is `seq` a contiguous run inside `args`? */
function has(args: string[], ...seq: string[]): boolean {
  return args.some((_, i) => seq.every((s, j) => args[i + j] === s));
}

describe("bwrapArgs", () => {
  const args = bwrapArgs(spec);

  it("isolates pid/ipc/uts but not the network, and dies with the node", () => {
    expect(args).toEqual(
      expect.arrayContaining([
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
      ]),
    );
    expect(args).not.toContain("--unshare-net");
    expect(args).not.toContain("--unshare-all");
    // setsid inside would take the command out of the process group signalled on deletion.
    expect(args).not.toContain("--new-session");
    expect(has(args, "--hostname", "web")).toBe(true);
  });

  it("shares the host's /usr read-only and mirrors merged-/usr symlinks", () => {
    expect(has(args, "--ro-bind", "/usr", "/usr")).toBe(true);
    expect(has(args, "--symlink", "usr/bin", "/bin")).toBe(true);
    expect(has(args, "--ro-bind", "/etc/ssl", "/etc/ssl")).toBe(true);
  });

  it("binds the image read-only, volumes per mode, devices and the termination log", () => {
    expect(has(args, "--ro-bind", "/src/kubevisor", "/app")).toBe(true);
    expect(has(args, "--bind", "/pod/volumes/data", "/data")).toBe(true);
    expect(has(args, "--ro-bind", "/pod/volumes/cfg", "/etc/cfg")).toBe(true);
    expect(has(args, "--dev-bind", "/dev/kvm", "/dev/kvm")).toBe(true);
    expect(has(args, "--bind", "/pod/c/termination-log", "/dev/termination-log")).toBe(true);
    expect(has(args, "--bind", "/pod/c/tmp", "/tmp")).toBe(true);
  });

  it("mounts volumes after the image, so they shadow it", () => {
    expect(args.indexOf("/pod/volumes/data")).toBeGreaterThan(args.indexOf("/src/kubevisor"));
  });

  it("sets exactly the given environment and ends with the command", () => {
    expect(has(args, "--clearenv")).toBe(true);
    expect(has(args, "--setenv", "A", "1")).toBe(true);
    expect(args.slice(-6)).toEqual(["--chdir", "/app", "--", "node", "main.js", "--flag"]);
  });
});
