import { z } from "zod";
import { GROUP, VERSION } from "./common.js";
import type { ResourceDefinition } from "./resources.js";

type Schema = Record<string, unknown>;

/**
 * The CustomResourceDefinition for a kind, from its zod schema. JSON Schema from zod is
 * turned into a Kubernetes *structural* schema: every node typed, no $ref, int-or-string in
 * the one anyOf form the apiserver accepts, and metadata left to the apiserver.
 */
export function toCrd(resource: ResourceDefinition): Schema {
  const json = z.toJSONSchema(resource.schema, {
    io: "input",
    target: "openapi-3.0",
    unrepresentable: "throw",
    reused: "inline",
  }) as Schema;
  const schema = structural(json);
  const properties = schema.properties as Record<string, Schema>;
  properties.apiVersion = { type: "string" };
  properties.kind = { type: "string" };
  properties.metadata = { type: "object" };
  schema.required = ["spec"];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${resource.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: resource.kind,
        listKind: `${resource.kind}List`,
        plural: resource.plural,
        singular: resource.singular,
        shortNames: resource.shortNames,
        categories: ["all", "kubevisor"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: resource.printerColumns,
          schema: { openAPIV3Schema: schema },
        },
      ],
    },
  };
}

const DROPPED_KEYS = new Set(["$schema", "propertyNames", "id"]);

/** Recursively rewrites one JSON-schema node into its structural form. Pure. */
export function structural(node: Schema): Schema {
  if (node["x-kubernetes-int-or-string"]) {
    const out: Schema = {
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
    };
    for (const key of ["pattern", "description", "default"]) if (key in node) out[key] = node[key];
    return out;
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === "additionalProperties") {
      // `false` is implied by a structural schema; a schema means a map (nodeSelector).
      if (typeof value === "object" && value !== null && Object.keys(value).length > 0) {
        out.additionalProperties = structural(value as Schema);
      }
      continue;
    }
    if (key === "maximum" && value === Number.MAX_SAFE_INTEGER) continue;
    if (key === "minimum" && value === Number.MIN_SAFE_INTEGER) continue;
    if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, structural(v)]),
      );
      continue;
    }
    if (key === "items") {
      out.items = structural(value as Schema);
      continue;
    }
    out[key] = value;
  }
  if (out["x-kubernetes-preserve-unknown-fields"]) {
    out.type = "object";
    delete out.additionalProperties;
  }
  if (!("type" in out)) throw new Error(`schema node without a type: ${JSON.stringify(node)}`);
  return out;
}
