/** API paths the app reads and writes (relative to the API root). */
import { API_VERSION } from "../../api/group.js";
import { subresourcePath, type VmSubresource } from "../../api/subresources.js";

const ns = (n: string) => encodeURIComponent(n);

export const vmsPath = (n: string) => `/apis/${API_VERSION}/namespaces/${ns(n)}/virtualmachines`;
export const vmPath = (n: string, name: string) => `${vmsPath(n)}/${encodeURIComponent(name)}`;
export const oneVmPath = (n: string, name: string) =>
  `${vmsPath(n)}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
export const migrationsPath = (n: string) =>
  `/apis/${API_VERSION}/namespaces/${ns(n)}/virtualmachinemigrations`;
export const eventsPath = (n: string, name: string) =>
  `/api/v1/namespaces/${ns(n)}/events?fieldSelector=${encodeURIComponent(`involvedObject.kind=VirtualMachine,involvedObject.name=${name}`)}`;
export const podPath = (n: string, name: string) =>
  `/api/v1/namespaces/${ns(n)}/pods/${encodeURIComponent(name)}`;
export const namespacesPath = "/api/v1/namespaces";
export const sub = (n: string, name: string, s: VmSubresource | "vnc") =>
  subresourcePath(n, name, s as VmSubresource);
