/**
 * Writes the values table of charts/kubevisor/README.md from values.yaml (keys and defaults)
 * and values.schema.json (types and descriptions), between the README's
 * `<!-- values:begin -->` and `<!-- values:end -->` markers; the prose around them is kept.
 * `--check` fails when the table is stale (part of `npm run check`).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";

export interface SchemaNode {
  type?: string;
  enum?: unknown[];
  description?: string;
  properties?: Record<string, SchemaNode>;
}

const BEGIN = "<!-- values:begin -->";
const END = "<!-- values:end -->";

function typeOf(schema: SchemaNode | undefined, value: unknown): string {
  if (schema?.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema?.type) return schema.type;
  return Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/\n/g, " ");

/**
 * Pure: one row per value. Recurses into objects the schema describes property by property;
 * anything else (maps like podAnnotations, resources) is one row with its default as JSON.
 * Keys only the schema knows (such as `global`) are listed with no default.
 */
export function valuesRows(
  values: Record<string, unknown>,
  schema: SchemaNode,
  prefix = "",
): string[] {
  const keys = [
    ...Object.keys(values),
    ...Object.keys(schema.properties ?? {}).filter((k) => !(k in values)),
  ];
  return keys.flatMap((key) => {
    const value = values[key];
    const sub = schema.properties?.[key];
    const path = `${prefix}${key}`;
    if (sub?.properties && value !== null && typeof value === "object" && !Array.isArray(value)) {
      return valuesRows(value as Record<string, unknown>, sub, `${path}.`);
    }
    const shown = key in values ? `\`${JSON.stringify(value)}\`` : "";
    return [
      `| \`${path}\` | ${cell(typeOf(sub, value))} | ${cell(shown)} | ${cell(sub?.description ?? "")} |`,
    ];
  });
}

export function valuesTable(values: Record<string, unknown>, schema: SchemaNode): string {
  return [
    "| key | type | default | description |",
    "| --- | --- | --- | --- |",
    ...valuesRows(values, schema),
  ].join("\n");
}

/** Pure: `readme` with the text between the markers replaced by `table`. */
export function withTable(readme: string, table: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`the README lacks ${BEGIN} ... ${END}`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

async function main() {
  const chart = join(import.meta.dirname, "..", "charts", "kubevisor");
  const values = parse(await readFile(join(chart, "values.yaml"), "utf8"));
  const schema = JSON.parse(await readFile(join(chart, "values.schema.json"), "utf8"));
  const file = join(chart, "README.md");
  const current = await readFile(file, "utf8");
  const next = withTable(current, valuesTable(values, schema));
  if (next === current) return;
  if (process.argv.includes("--check")) {
    console.error(`${file} is out of date: run npm run generate`);
    process.exit(1);
  }
  await writeFile(file, next);
  console.log(`wrote ${file}`);
}

if (process.argv[1]?.endsWith("chart-readme.ts")) await main();
