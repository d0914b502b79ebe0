import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

/**
 * The same keys everywhere for the same thing, so one query finds a VM across operator,
 * launcher and API server logs: `vm` (its name), `namespace`, `pod`, `node`, `migration`
 * (names), and `err` for an Error (pino's serializer keeps type, message and stack).
 */
export type LogKey = "vm" | "namespace" | "pod" | "node" | "migration" | "err";

/**
 * Options of every Kubevisor logger: JSON with the level as a word (`"level":"info"`, what log
 * pipelines and humans grep for, not pino's number), an ISO time, and Errors under `err`.
 */
export function logOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  };
}

/** A logger with Kubevisor's options writing to `destination` (tests read it back). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino(logOptions(level), destination) : pino(logOptions(level));
}

/** One JSON logger per process; components take a child with their own name. */
export const rootLogger: Logger = createLogger(process.env.KUBEVISOR_LOG_LEVEL ?? "info");

export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...bindings });
}

export type { Logger };
