import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../../util/log.js";
import type { ImageStore } from "./image-store.js";
import type { IpAllocator } from "./ip-allocator.js";
import type { NodeLayout } from "./layout.js";
import type { HostSystem } from "./sandbox.js";

/** What every pod worker of one node shares. */
export interface NodeContext {
  nodeName: string;
  cluster: string;
  layout: NodeLayout;
  core: CoreV1Api;
  ips: IpAllocator;
  host: HostSystem;
  /** The node's InternalIP; also where pods reach the apiserver. */
  hostIP: string;
  apiserverPort: number;
  allocatable: Record<string, string>;
  /** /dev/kvm exists here (usable or not: the launcher decides). */
  kvm: boolean;
  images: () => ImageStore;
  log: Logger;
}
