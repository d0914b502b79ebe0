import { describe, expect, it } from "vitest";
import { parseCommand, UsageError } from "../../../src/cli/vm/args.js";
import { complete } from "../../../src/cli/vm/complete.js";
import { sshArgv } from "../../../src/cli/vm/portforward.js";
import { viewerArgv } from "../../../src/cli/vm/vnc.js";

describe("kubectl vm vnc, pause, unpause", () => {
  it("parses vnc with a local port and a viewer, and pause/unpause with a name", () => {
    expect(parseCommand(["vnc", "demo", "-n", "ns"])).toEqual({
      command: "vnc",
      name: "demo",
      namespace: "ns",
      port: 0,
    });
    expect(parseCommand(["vnc", "demo", "--port", "5901", "--viewer", "vncviewer"])).toEqual({
      command: "vnc",
      name: "demo",
      port: 5901,
      viewer: "vncviewer",
    });
    expect(parseCommand(["pause", "demo"])).toEqual({ command: "pause", name: "demo" });
    expect(parseCommand(["unpause", "demo"])).toEqual({ command: "unpause", name: "demo" });
  });

  it("refuses a port out of range or not a number, naming the flag", () => {
    for (const bad of ["65536", "-1", "http", "1e3", "99999999"]) {
      expect(() => parseCommand(["vnc", "demo", "--port", bad])).toThrow(UsageError);
      expect(() => parseCommand(["vnc", "demo", "--port", bad])).toThrow(/--port/);
    }
    expect(() => parseCommand(["pause", "demo", "--viewer", "x"])).toThrow(
      /--viewer is not a flag of pause/,
    );
    expect(() => parseCommand(["pause"])).toThrow(/expected exactly one VM name/);
  });

  it("hands the viewer the local address", () => {
    expect(viewerArgv("vncviewer", 5901)).toEqual(["vncviewer", "127.0.0.1::5901"]);
    expect(viewerArgv("remmina -c vnc://%h:%p", 5901)).toEqual([
      "remmina",
      "-c",
      "vnc://127.0.0.1:5901",
    ]);
  });

  it("completes the new commands and their flags", async () => {
    const sources = {
      vms: async () => ["demo"],
      namespaces: async () => [],
      contexts: () => [],
    };
    expect(await complete(["p"], sources)).toEqual(expect.arrayContaining(["pause"]));
    expect(await complete(["un"], sources)).toEqual(["unpause"]);
    expect(await complete(["vnc", ""], sources)).toEqual(["demo"]);
    expect(await complete(["vnc", "demo", "--v"], sources)).toEqual(["--viewer"]);
  });
});

describe("kubectl vm port-forward and ssh", () => {
  it("parses LOCAL:GUEST, --stdio GUEST, and [USER@]NAME with ssh's own arguments", () => {
    expect(parseCommand(["port-forward", "demo", "8080:80", "-n", "ns"])).toEqual({
      command: "port-forward",
      name: "demo",
      namespace: "ns",
      localPort: 8080,
      guestPort: 80,
      stdio: false,
    });
    expect(parseCommand(["port-forward", "--stdio", "demo", "22"])).toMatchObject({
      localPort: 0,
      guestPort: 22,
      stdio: true,
    });
    expect(parseCommand(["ssh", "debian@demo", "--", "-i", "key", "uname", "-a"])).toEqual({
      command: "ssh",
      name: "demo",
      user: "debian",
      port: 22,
      sshArgs: ["-i", "key", "uname", "-a"],
    });
  });

  it("refuses guest ports outside 1-65535 and malformed pairs, naming what is wrong", () => {
    expect(() => parseCommand(["port-forward", "demo", "8080:0"])).toThrow(
      /GUEST: "0" is not a port/,
    );
    expect(() => parseCommand(["port-forward", "demo", "8080:65536"])).toThrow(/GUEST/);
    expect(() => parseCommand(["port-forward", "demo", "70000:80"])).toThrow(/LOCAL/);
    expect(() => parseCommand(["port-forward", "demo", "80"])).toThrow(/is not LOCAL:GUEST/);
    expect(() => parseCommand(["port-forward", "demo"])).toThrow(/expected LOCAL:GUEST/);
    expect(() => parseCommand(["ssh", "demo", "--ssh-port", "0"])).toThrow(/--ssh-port/);
  });

  it("builds ssh's argv with this program as the ProxyCommand, quoted for the shell", () => {
    const argv = sshArgv(
      { name: "demo", user: "debian", port: 22, sshArgs: ["true"], kubeconfig: "/k k" },
      "ns",
      ["/usr/bin/node", "/opt/kubectl-vm"],
    );
    expect(argv).toEqual([
      "-o",
      "ProxyCommand=/usr/bin/node /opt/kubectl-vm port-forward --stdio demo 22 -n ns --kubeconfig '/k k'",
      "-o",
      "HostKeyAlias=vm.demo.ns",
      "debian@demo",
      "true",
    ]);
  });
});
