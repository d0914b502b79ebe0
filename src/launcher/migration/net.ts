import { createServer } from "node:net";

/**
 * A TCP port nobody listens on at `host` right now (the kernel's pick for port 0). Fixed
 * ports could collide with the guest's own forwarded ports, which share the pod IP.
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
