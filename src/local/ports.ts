import { createServer } from "node:net";
import { HOST, PORT_ROLES, type Ports } from "./flags.js";

export class PortInUseError extends Error {
  override name = "PortInUseError";
  constructor(
    readonly port: number,
    readonly role: string,
  ) {
    super(
      `port ${port} on ${HOST} (${role}) is already in use by another process; ` +
        `stop whatever listens there (ss -ltnp 'sport = :${port}') or choose another port`,
    );
  }
}

/** Resolves true if we could listen on the port, i.e. nobody else does. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Checks every port before anything starts, so a conflict never leaves half a cluster. */
export async function assertPortsFree(ports: Ports): Promise<void> {
  for (const [key, port] of Object.entries(ports) as Array<[keyof Ports, number]>) {
    if (!(await canListen(port))) throw new PortInUseError(port, PORT_ROLES[key]);
  }
}

/** Ports the kernel considers free right now, distinct from each other and from `avoid`. */
export async function freePorts(count: number, avoid: readonly number[] = []): Promise<number[]> {
  const servers = [];
  const ports: number[] = [];
  // Keep all listeners open until done so the kernel cannot hand out one port twice.
  while (ports.length < count) {
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ port: 0, host: HOST, exclusive: true }, resolve);
    });
    servers.push(srv);
    const addr = srv.address();
    if (addr && typeof addr === "object" && !avoid.includes(addr.port)) ports.push(addr.port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Fills in any port the caller did not fix with a free one. */
export async function allocatePorts(fixed: Partial<Ports> = {}): Promise<Ports> {
  const keys = Object.keys(PORT_ROLES) as Array<keyof Ports>;
  const missing = keys.filter((k) => fixed[k] === undefined);
  const fresh = await freePorts(missing.length, Object.values(fixed) as number[]);
  const ports = { ...fixed } as Ports;
  missing.forEach((k, i) => {
    ports[k] = fresh[i] as number;
  });
  return ports;
}
