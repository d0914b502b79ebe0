import { stringify } from "yaml";
import type { LaunchedVm } from "../spec.js";

/** The files of a NoCloud seed, by the names cloud-init looks for on a `cidata` volume. */
export interface NoCloudFiles {
  "meta-data": string;
  "user-data": string;
  "network-config"?: string;
}

export const NOCLOUD_VOLUME_LABEL = "cidata";

/**
 * The instance-id is the VM's uid, not the pod's: cloud-init runs its once-per-instance
 * steps on first boot only, and a restarted or migrated VM is the same instance.
 */
export function noCloudMetaData(vm: Pick<LaunchedVm, "name" | "uid">): string {
  return stringify({ "instance-id": vm.uid, "local-hostname": vm.name });
}

export function noCloudFiles(
  metaData: string,
  source: { userData?: string | undefined; networkData?: string | undefined },
): NoCloudFiles {
  const files: NoCloudFiles = {
    "meta-data": metaData,
    // cloud-init needs the file to exist; empty means "nothing to do".
    "user-data": source.userData ?? "",
  };
  if (source.networkData !== undefined) files["network-config"] = source.networkData;
  return files;
}
