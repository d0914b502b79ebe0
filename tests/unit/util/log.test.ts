import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/util/log.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe("log output", () => {
  it("writes the level as a word, an ISO time, the component and the caller's keys", () => {
    const { lines, stream } = capture();
    const log = createLogger("debug", stream).child({ component: "operator" });
    log.info({ namespace: "ns", vm: "web", pod: "web-launcher-1" }, "created launcher pod");
    log.debug("details");
    log.warn("careful");
    expect(lines.map((l) => l.level)).toEqual(["info", "debug", "warn"]);
    expect(lines[0]).toMatchObject({
      level: "info",
      component: "operator",
      namespace: "ns",
      vm: "web",
      pod: "web-launcher-1",
      msg: "created launcher pod",
    });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("keeps an Error passed as err whole: type, message and stack", () => {
    const { lines, stream } = capture();
    createLogger("info", stream).warn({ err: new TypeError("boom") }, "failed");
    const err = lines[0]?.err as { type: string; message: string; stack: string };
    expect(err.type).toBe("TypeError");
    expect(err.message).toBe("boom");
    expect(err.stack).toMatch(/TypeError: boom\n\s+at /);
  });

  it("drops what is below the level", () => {
    const { lines, stream } = capture();
    createLogger("warn", stream).info("quiet");
    expect(lines).toEqual([]);
  });
});

/** Every .ts file under src/. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("log calls in src/", () => {
  const root = join(import.meta.dirname, "..", "..", "..", "src");
  const files = sources(root).map((f) => ({ f, text: readFileSync(f, "utf8") }));

  it("pass errors whole as err (a message or String(err) loses the stack)", () => {
    const flattened =
      /\berr: *(String\(|\(?\w+ as Error\)?\??\.message|\w+\.message|\w+ instanceof Error)/;
    const offenders = files.flatMap(({ f, text }) =>
      text
        .split("\n")
        .map((line, i) => ({ line, where: `${f.slice(root.length + 1)}:${i + 1}` }))
        .filter(({ line }) => flattened.test(line))
        .map(({ where, line }) => `${where}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });

  it("log a VM as namespace + vm (its name), never as one ns/name string", () => {
    const joined = /\b(vm|pod|migration): *`\$\{[^}]+\}\/\$\{/;
    const offenders = files.flatMap(({ f, text }) =>
      text
        .split("\n")
        .map((line, i) => ({ line, where: `${f.slice(root.length + 1)}:${i + 1}` }))
        .filter(({ line }) => joined.test(line))
        .map(({ where, line }) => `${where}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });
});
