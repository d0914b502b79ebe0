import { WebSocket } from "ws";
import { CONSOLE_CLOSE } from "../../api/subresources.js";
import type { CommonArgs, WaitArgs } from "./args.js";
import { CliError, EXIT, exitCodeFor } from "./errors.js";
import { type Session, session, webSocketOptions } from "./kube.js";
import { remember, unseen } from "./replay.js";
import { getVm } from "./status.js";
import { openStream as open, Refused, streamUrl } from "./stream.js";

/** Ctrl-]: detach, as telnet and virsh console do. */
const ESCAPE = 0x1d;
const PING_EVERY_MS = 15_000;
/** No pong for this long: the connection is dead though TCP has not noticed. */
const PONG_DEADLINE_MS = 45_000;
/** Frames arriving this soon after a reconnect are the launcher's replay. */
const REPLAY_WINDOW_MS = 200;
const BACKOFF_MS = { first: 250, max: 5_000 };
/** Input typed while reconnecting is kept, up to this much. */
const MAX_PENDING_INPUT = 64 * 1024;

export type ConsoleArgs = CommonArgs & WaitArgs & { watch: boolean; lingerMs: number };

type Ending =
  | { kind: "detached" }
  | { kind: "takenOver"; reason: string }
  | { kind: "dropped"; reason: string };

/**
 * `kubectl vm console NAME`: a loop of connections. Each ends by the user detaching (done),
 * another session taking over (exit 1), or a drop (reconnect with backoff until --timeout).
 */
export async function runConsole(args: ConsoleArgs): Promise<number> {
  const s = session(args);
  const url = streamUrl(s, args.name, "console", args.watch ? "?mode=watch" : "");
  const tty = process.stdin.isTTY === true;
  const note = (text: string) => process.stderr.write(tty ? `\r\n[${text}]\r\n` : `[${text}]\n`);

  let detach: () => void = () => {};
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let send: ((b: Buffer) => void) | undefined;
  let stdinEnded = false;
  let isDetached = false;
  const detached = new Promise<void>((resolve) => {
    detach = resolve;
  }).then(() => {
    isDetached = true;
  });

  const onInput = (chunk: Buffer) => {
    if (tty) {
      const at = chunk.indexOf(ESCAPE);
      if (at >= 0) {
        if (at > 0) deliver(chunk.subarray(0, at));
        detach();
        return;
      }
    }
    deliver(chunk);
  };
  const deliver = (chunk: Buffer) => {
    if (args.watch) return;
    if (send) send(chunk);
    else if (pendingBytes + chunk.length <= MAX_PENDING_INPUT) {
      pending.push(chunk);
      pendingBytes += chunk.length;
    }
  };
  if (tty) process.stdin.setRawMode(true);
  process.stdin.on("data", onInput);
  process.stdin.on("end", () => {
    stdinEnded = true;
    // Pipe mode: keep reading a little after the script's input ends, then leave.
    setTimeout(() => detach(), args.lingerMs).unref();
  });
  process.stdin.resume();

  const restore = () => {
    process.stdin.off("data", onInput);
    if (tty) process.stdin.setRawMode(false);
    process.stdin.pause();
    s.client.close();
  };

  try {
    if (args.wait) await waitRunning(s, args.name, Date.now() + args.timeoutMs, note);
    let history: Buffer = Buffer.alloc(0);
    let attempt = 0;
    let connectedOnce = false;
    let downSince = Date.now();
    for (;;) {
      let ws: WebSocket;
      try {
        ws = await open(url, await webSocketOptions(s.kc));
      } catch (err) {
        if (!(err instanceof Refused) && !(err instanceof Error)) throw err;
        const status = err instanceof Refused ? err.status : 0;
        // Not running (409) is worth waiting for only when asked to wait or when it was
        // running a moment ago (a migration or restart); refusals by policy never are.
        const transient =
          status === 0 || status >= 500 || (status === 409 && (args.wait || connectedOnce));
        if (!transient) throw new CliError(exitCodeFor(status), err.message);
        if (Date.now() - downSince > args.timeoutMs)
          throw new CliError(
            EXIT.failed,
            `console unavailable for ${Math.round(args.timeoutMs / 1000)} s: ${err.message}`,
          );
        const delay = Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** attempt++);
        await Promise.race([new Promise((r) => setTimeout(r, delay)), detached]);
        if (isDetached) return EXIT.ok;
        continue;
      }
      attempt = 0;
      if (!connectedOnce)
        note(
          `attached to VM ${s.namespace}/${args.name}${args.watch ? " (read-only)" : ""}${tty ? "; detach with Ctrl-]" : ""}`,
        );
      else note("reconnected");
      const ending = await pump(ws, {
        replayFilter: connectedOnce ? (replay) => unseen(history, replay) : undefined,
        output: (chunk) => {
          history = remember(history, chunk);
          process.stdout.write(chunk);
        },
        setSend: (fn) => {
          send = fn;
          if (fn) {
            for (const chunk of pending) fn(chunk);
            pending = [];
            pendingBytes = 0;
          }
        },
        detached,
      });
      connectedOnce = true;
      if (ending.kind === "detached") return EXIT.ok;
      if (ending.kind === "takenOver") {
        note(ending.reason);
        return EXIT.failed;
      }
      if (stdinEnded) return EXIT.ok;
      note(`connection lost (${ending.reason}); reconnecting`);
      downSince = Date.now();
    }
  } finally {
    restore();
  }
}

/** One connection: output to the terminal, input to the guest, pings, until it ends. */
function pump(
  ws: WebSocket,
  o: {
    replayFilter?: (replay: Buffer) => Buffer;
    output: (chunk: Buffer) => void;
    setSend: (fn: ((b: Buffer) => void) | undefined) => void;
    detached: Promise<void>;
  },
): Promise<Ending> {
  return new Promise((resolve) => {
    let replay: Buffer[] | undefined = o.replayFilter ? [] : undefined;
    if (replay) {
      setTimeout(() => {
        const held = Buffer.concat(replay ?? []);
        replay = undefined;
        const fresh = o.replayFilter?.(held) ?? held;
        if (fresh.length > 0) o.output(fresh);
      }, REPLAY_WINDOW_MS);
    }
    ws.on("message", (data: Buffer) => {
      if (replay) replay.push(data);
      else o.output(data);
    });
    o.setSend((chunk) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
    });
    let lastPong = Date.now();
    ws.on("pong", () => {
      lastPong = Date.now();
    });
    const pinger = setInterval(() => {
      if (Date.now() - lastPong > PONG_DEADLINE_MS) ws.terminate();
      else ws.ping();
    }, PING_EVERY_MS);
    const finish = (ending: Ending) => {
      clearInterval(pinger);
      o.setSend(undefined);
      resolve(ending);
    };
    let userDetached = false;
    void o.detached.then(() => {
      userDetached = true;
      ws.close(1000, "detached");
    });
    ws.on("error", () => {});
    ws.on("close", (code, reason) => {
      if (userDetached) return finish({ kind: "detached" });
      const text = reason.toString();
      if (code === CONSOLE_CLOSE.takenOver) return finish({ kind: "takenOver", reason: text });
      finish({ kind: "dropped", reason: text || `code ${code}` });
    });
  });
}

async function waitRunning(
  s: Session,
  name: string,
  deadline: number,
  note: (t: string) => void,
): Promise<void> {
  let said = "";
  for (;;) {
    const vm = await getVm(s, name);
    const phase = vm.status?.phase ?? "Pending";
    if (phase === "Running") return;
    if (phase !== said) {
      note(`waiting for VM ${name} to run (phase ${phase})`);
      said = phase;
    }
    if (Date.now() > deadline)
      throw new CliError(EXIT.failed, `VM ${name} still ${phase} after the --timeout`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
