import { type Logger, pino } from "pino";

/** One JSON logger per process; components take a child with their own name. */
export const rootLogger: Logger = pino({
  level: process.env.KUBEVISOR_LOG_LEVEL ?? "info",
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...bindings });
}

export type { Logger };
