import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "preact/hooks";
import { CONSOLE_CLOSE } from "../../api/subresources.js";
import { openSocket } from "./api";
import { sub } from "./paths";
import type { Permission } from "./rbac";

/**
 * The serial console in an xterm. Interactive when the user may `update`
 * virtualmachines/console, read-only (`?mode=watch`) when only `get`. Reconnects by itself
 * when the launcher goes away (a migration, a restart), as `kubectl vm console` does.
 */
export function ConsolePane(props: {
  namespace: string;
  name: string;
  interactive?: Permission;
  watch?: Permission;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("connecting…");
  const interactive = props.interactive?.allowed === true;
  const allowed = interactive || props.watch?.allowed === true;
  useEffect(() => {
    if (!host.current || !allowed) return;
    const term = new Terminal({
      convertEol: false,
      cursorBlink: true,
      fontSize: 14,
      scrollback: 5000,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    fit.fit();
    const onResize = () => fit.fit();
    window.addEventListener("resize", onResize);
    let ws: WebSocket | undefined;
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const encoder = new TextEncoder();
    const input = term.onData((d) => {
      if (interactive && ws?.readyState === WebSocket.OPEN) ws.send(encoder.encode(d));
    });
    const connect = () => {
      const path = `${sub(props.namespace, props.name, "console")}${interactive ? "" : "?mode=watch"}`;
      ws = openSocket(path);
      ws.onopen = () => {
        // The server replays recent output on every attach: start from a clean screen.
        term.reset();
        setState(interactive ? "connected" : "connected (read-only)");
        term.focus();
      };
      ws.onmessage = (ev) => term.write(new Uint8Array(ev.data as ArrayBuffer));
      ws.onclose = (ev) => {
        if (closed) return;
        if (ev.code === CONSOLE_CLOSE.takenOver)
          return setState(`disconnected: ${ev.reason || "another session took over"}`);
        setState(`reconnecting… ${ev.reason ? `(${ev.reason})` : ""}`);
        retry = setTimeout(connect, 1500);
      };
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(retry);
      input.dispose();
      ws?.close(1000, "page closed");
      window.removeEventListener("resize", onResize);
      term.dispose();
    };
  }, [props.namespace, props.name, allowed, interactive]);
  if (!props.interactive || !props.watch) return <p>Checking access…</p>;
  if (!allowed) return <p class="muted">{props.watch.reason}</p>;
  return (
    <div>
      <p class="muted" data-console-state={state}>
        Serial console: {state}
        {!interactive ? ` — ${props.interactive.reason}` : ""}
      </p>
      <div class="terminal" ref={host} data-testid="console" />
    </div>
  );
}
