import { describe, expect, it } from "vitest";
import {
  formatMap,
  quantityValue,
  resolveFieldRef,
  resolveResourceFieldRef,
} from "../../../../src/local/node/fieldpath.js";
import { container, facts } from "./fixtures.js";

describe("quantityValue", () => {
  it.each([
    ["500m", 0.5],
    ["2", 2],
    ["1Ki", 1024],
    ["1Gi", 2 ** 30],
    ["1k", 1000],
    ["1e3", 1000],
  ])("%s = %d", (q, v) => expect(quantityValue(q)).toBe(v));
});

describe("resolveResourceFieldRef", () => {
  const c = container({
    resources: { limits: { cpu: "500m", memory: "64Mi" }, requests: { cpu: "250m" } },
  });
  it.each([
    ["limits.cpu", undefined, "1"],
    ["limits.cpu", "1m", "500"],
    ["requests.cpu", "1m", "250"],
    ["limits.memory", undefined, String(64 * 2 ** 20)],
    ["limits.memory", "1Mi", "64"],
    ["requests.memory", undefined, "0"],
  ])("%s / %s = %s", (resource, divisor, out) => {
    expect(resolveResourceFieldRef({ resource, divisor }, c, facts())).toBe(out);
  });

  it("reads an unset limit as node allocatable", () => {
    expect(
      resolveResourceFieldRef({ resource: "limits.memory", divisor: "1Gi" }, container(), facts()),
    ).toBe("8");
  });
});

describe("resolveFieldRef", () => {
  it('renders whole label maps as sorted key="value" lines', () => {
    expect(formatMap({ b: "2", a: 'x"y' })).toBe('a="x\\"y"\nb="2"');
    expect(resolveFieldRef({ fieldPath: "metadata.labels" }, facts())).toBe(
      'app="web"\ntier="front"',
    );
  });

  it("refuses paths the API does not offer", () => {
    expect(() => resolveFieldRef({ fieldPath: "spec.bogus" }, facts())).toThrow(/unsupported/);
  });
});
