import type { z } from "zod";
import { VirtualMachineMigration } from "./migration.js";
import { VirtualMachine } from "./virtualmachine.js";

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  priority?: number;
  description?: string;
}

/** Everything the CRD generator and the clients need to know about one kind. */
export interface ResourceDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  schema: z.ZodType;
  printerColumns: PrinterColumn[];
}

export const VirtualMachineResource = {
  kind: "VirtualMachine",
  plural: "virtualmachines",
  singular: "virtualmachine",
  shortNames: ["vm", "vms"],
  schema: VirtualMachine,
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Node", type: "string", jsonPath: ".status.nodeName" },
    { name: "Accel", type: "string", jsonPath: ".status.acceleration" },
    { name: "IP", type: "string", jsonPath: ".status.ipAddress" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
} as const satisfies ResourceDefinition;

export const VirtualMachineMigrationResource = {
  kind: "VirtualMachineMigration",
  plural: "virtualmachinemigrations",
  singular: "virtualmachinemigration",
  shortNames: ["vmmig", "vmmigs"],
  schema: VirtualMachineMigration,
  printerColumns: [
    { name: "VM", type: "string", jsonPath: ".spec.vmName" },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Source", type: "string", jsonPath: ".status.sourceNode" },
    { name: "Target", type: "string", jsonPath: ".status.targetNode" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
} as const satisfies ResourceDefinition;

export const RESOURCES: ResourceDefinition[] = [
  VirtualMachineResource,
  VirtualMachineMigrationResource,
];
