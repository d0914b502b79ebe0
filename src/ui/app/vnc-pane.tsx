import RFB from "@novnc/novnc";
import { useEffect, useRef, useState } from "preact/hooks";
import { socketProtocols, socketUrl } from "./api";
import { sub } from "./paths";
import type { Permission } from "./rbac";

/**
 * The VM's screen through noVNC; reconnects by itself (a migration or restart moves the
 * display to another launcher). `data-vnc-connects` counts the sessions that came up, so a
 * test (or a curious user) can tell a reconnect from a connection that never dropped.
 */
export function VncPane(props: { namespace: string; name: string; perm?: Permission }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("connecting…");
  const [connects, setConnects] = useState(0);
  const allowed = props.perm?.allowed === true;
  useEffect(() => {
    if (!host.current || !allowed) return;
    let rfb: RFB | undefined;
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const url = socketUrl(sub(props.namespace, props.name, "vnc"));
    const connect = () => {
      if (!host.current) return;
      rfb = new RFB(host.current, url, { wsProtocols: socketProtocols() });
      rfb.scaleViewport = true;
      rfb.addEventListener("connect", () => {
        setState("connected");
        setConnects((n) => n + 1);
      });
      rfb.addEventListener("disconnect", () => {
        if (closed) return;
        setState("reconnecting…");
        retry = setTimeout(connect, 1500);
      });
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(retry);
      rfb?.disconnect();
    };
  }, [props.namespace, props.name, allowed]);
  if (!props.perm) return <p>Checking access…</p>;
  if (!allowed) return <p class="muted">{props.perm.reason}</p>;
  return (
    <div>
      <p class="muted" data-vnc-state={state} data-vnc-connects={connects}>
        Screen: {state}
      </p>
      <div class="vnc" ref={host} data-testid="vnc" />
    </div>
  );
}
