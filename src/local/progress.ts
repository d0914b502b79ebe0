/**
 * Human progress for long waits (first build, control-plane start). On a terminal it keeps one
 * status line up to date; otherwise (CI, pipes) it prints a line at most every `interval` ms so
 * logs show the wait is alive without drowning in updates. Machine-readable events go to pino.
 */
export interface Progress {
  /** Starts a named step; its elapsed time is shown with every update. */
  step(name: string): void;
  /** Replaces the current step's status text. */
  update(text: string): void;
  /** Prints a line that must not be condensed (errors, results). */
  note(text: string): void;
  /** Ends the current step, printing its total time. */
  done(text?: string): void;
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(s % 60).padStart(2, "0")}s`;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Minimum gap between lines when not on a terminal. */
  interval?: number;
  now?: () => number;
}

export function createProgress(opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const interval = opts.interval ?? 15_000;
  const now = opts.now ?? Date.now;
  const tty = Boolean(stream.isTTY);
  let stepName = "";
  let started = now();
  let lastPrinted = 0;
  let lineOpen = false;

  const clearLine = () => {
    if (tty && lineOpen) stream.write("\r\x1b[2K");
    lineOpen = false;
  };
  const write = (text: string) => {
    clearLine();
    stream.write(`${text}\n`);
  };
  const prefix = () => `[${stepName} ${formatDuration(now() - started)}]`;

  return {
    step(name) {
      if (lineOpen) clearLine();
      stepName = name;
      started = now();
      lastPrinted = now();
      write(`[${name}] started`);
    },
    update(text) {
      const line = `${prefix()} ${text}`;
      if (tty) {
        const width = stream.columns ?? 120;
        stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
        lineOpen = true;
      } else if (now() - lastPrinted >= interval) {
        lastPrinted = now();
        write(line);
      }
    },
    note(text) {
      write(text);
    },
    done(text = "done") {
      write(`${prefix()} ${text}`);
    },
  };
}

/** For callers that want no human output (tests, benchmarks). */
export const silentProgress: Progress = {
  step() {},
  update() {},
  note() {},
  done() {},
};
