import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { syncedVolumes, updateVolumeFiles } from "../../../../src/local/node/volume-sync.js";

const root = mkdtempSync(join(tmpdir(), "kv-volume-sync-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const file = (path: string, text: string, mode = 0o644) => ({
  path,
  content: Buffer.from(text),
  mode,
});

describe("volume sync on the stand-in node", () => {
  it("keeps secret and configMap volumes in sync, not tokens or subPath mounts", () => {
    const names = syncedVolumes({
      spec: {
        containers: [
          {
            name: "c",
            volumeMounts: [
              { name: "cfg", mountPath: "/etc/x/a", subPath: "a" },
              { name: "tls", mountPath: "/tls" },
            ],
          },
        ],
        volumes: [
          { name: "tls", secret: { secretName: "t" } },
          { name: "cfg", configMap: { name: "c" } },
          { name: "cm", configMap: { name: "d" } },
          { name: "token", projected: { sources: [] } },
          { name: "scratch", emptyDir: {} },
        ],
      },
    }).map((v) => v.name);
    expect(names).toEqual(["tls", "cm"]);
  });

  it("rewrites changed files in place and removes gone keys, keeping the directory (it is bind-mounted)", () => {
    const dir = join(root, "tls");
    mkdirSync(dir);
    const inode = statSync(dir).ino;
    expect(updateVolumeFiles(dir, [file("tls.crt", "one"), file("old.key", "x", 0o600)])).toBe(
      true,
    );
    expect(updateVolumeFiles(dir, [file("tls.crt", "one"), file("old.key", "x", 0o600)])).toBe(
      false,
    );
    expect(updateVolumeFiles(dir, [file("tls.crt", "two"), file("ca.crt", "ca")])).toBe(true);
    expect(readFileSync(join(dir, "tls.crt"), "utf8")).toBe("two");
    expect(readdirSync(dir).sort()).toEqual(["ca.crt", "tls.crt"]);
    expect(statSync(dir).ino).toBe(inode);
  });
});
