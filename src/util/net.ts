import { isIP } from "node:net";

/** `host:port` for URLs and QEMU URIs: an IPv6 address goes in brackets (`[fd00::5]:8443`). */
export function hostPort(host: string, port: number | string): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
