import type { DiskConfig } from "../../vmm/config.js";

/** A disk made ready: what the VMM gets, and the size the guest sees (for the log). */
export interface PreparedDisk {
  disk: DiskConfig;
  sizeBytes?: number;
}
