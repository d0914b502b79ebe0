import { describe, expect, it } from "vitest";
import { benchRuntime } from "../../../bench/lib/runtime.js";

describe("benchRuntime: npm run bench -- NAME --runtime X", () => {
  it("defaults to the stand-in and takes either runtime", () => {
    expect(benchRuntime([])).toBe("local");
    expect(benchRuntime(["--runtime", "containerd"])).toBe("containerd");
    expect(benchRuntime(["--runtime=local"])).toBe("local");
  });

  it("refuses an unknown runtime or option, naming it", () => {
    expect(() => benchRuntime(["--runtime", "docker"])).toThrow(
      /--runtime must be one of local, containerd; got 'docker'/,
    );
    expect(() => benchRuntime(["--runtim", "local"])).toThrow(/--runtim/);
  });
});
