import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { valuesRows, valuesTable, withTable } from "../../../scripts/chart-readme.js";
import { chartDir } from "../../../src/local/product.js";

describe("chart README values table", () => {
  it("lists leaves with type, default and the schema's description; schema-only keys too", () => {
    const rows = valuesRows(
      { image: { tag: "" }, operator: { podLabels: {}, logLevel: "info" } },
      {
        properties: {
          global: { type: "object", description: "shared" },
          image: { properties: { tag: { type: "string", description: "the | tag" } } },
          operator: {
            properties: {
              podLabels: { type: "object", description: "labels" },
              logLevel: { enum: ["info", "warn"], description: "level" },
            },
          },
        },
      },
    );
    expect(rows).toEqual([
      '| `image.tag` | string | `""` | the \\| tag |',
      "| `operator.podLabels` | object | `{}` | labels |",
      '| `operator.logLevel` | "info" \\| "warn" | `"info"` | level |',
      "| `global` | object |  | shared |",
    ]);
  });

  it("replaces only the text between the markers", () => {
    const readme = "intro\n<!-- values:begin -->\nold\n<!-- values:end -->\noutro\n";
    expect(withTable(readme, "new")).toBe(
      "intro\n<!-- values:begin -->\nnew\n<!-- values:end -->\noutro\n",
    );
    expect(() => withTable("no markers", "t")).toThrow(/values:begin/);
  });

  it("describes every value of the chart (no empty description)", () => {
    const dir = chartDir();
    const table = valuesTable(
      parse(readFileSync(join(dir, "values.yaml"), "utf8")),
      JSON.parse(readFileSync(join(dir, "values.schema.json"), "utf8")),
    );
    const undocumented = table
      .split("\n")
      .slice(2)
      .filter((row) => row.endsWith("|  |"));
    expect(undocumented).toEqual([]);
  });
});
