import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { VirtualMachine, type VirtualMachineSpec } from "../api/virtualmachine.js";

/** The VM a launcher runs, as the operator wrote it into the pod annotation. */
export interface LaunchedVm {
  name: string;
  namespace: string;
  uid: string;
  spec: VirtualMachineSpec;
}

export class SpecError extends Error {
  override name = "SpecError";
}

/** Validate the annotation's JSON; errors name the offending field. */
export function parseLaunchedVm(text: string): LaunchedVm {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SpecError(`VM spec is not JSON: ${(err as Error).message}`);
  }
  const parsed = VirtualMachine.safeParse(json);
  if (!parsed.success) throw new SpecError(`invalid VM spec: ${describeIssues(parsed.error)}`);
  const { name, namespace, uid } = parsed.data.metadata;
  if (!name || !namespace || !uid) {
    throw new SpecError(
      "invalid VM spec: metadata.name, metadata.namespace and metadata.uid are required",
    );
  }
  return { name, namespace, uid, spec: parsed.data.spec };
}

export async function readLaunchedVm(path: string): Promise<LaunchedVm> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new SpecError(`cannot read the VM spec file ${path}: ${(err as Error).message}`);
  }
  return parseLaunchedVm(text);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
