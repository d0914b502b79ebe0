import RFB from "@novnc/novnc";
import { useEffect, useRef, useState } from "preact/hooks";
import { socketProtocols, socketUrl } from "./api";
import { sub } from "./paths";
import type { Permission } from "./rbac";

/** The VM's screen through noVNC; reconnects by itself (a migration moves the display). */
export function VncPane(props: { namespace: string; name: string; perm?: Permission }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("connecting…");
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
      rfb.addEventListener("connect", () => setState("connected"));
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
      <p class="muted" data-vnc-state={state}>
        Screen: {state}
      </p>
      <div class="vnc" ref={host} data-testid="vnc" />
    </div>
  );
}
