import { parser } from "@prometheus-io/lezer-promql";

/**
 * The metric names a PromQL expression selects, parsed with Prometheus' own grammar (its
 * Lezer parser, as the Prometheus UI uses). Throws on a syntax error, naming the place.
 */
export function selectedMetrics(expr: string): string[] {
  const names = new Set<string>();
  let error: number | undefined;
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) error ??= node.from;
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") {
        names.add(expr.slice(node.from, node.to));
      }
    },
  });
  if (error !== undefined) {
    throw new Error(`PromQL syntax error at ${error}: ${expr.slice(error, error + 40)} in ${expr}`);
  }
  return [...names];
}
