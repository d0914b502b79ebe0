import { GROUP, type VirtualMachine, type VirtualMachineSpec } from "../../api/index.js";

/**
 * How users (and `kubectl vm start|stop|restart`) ask for a change of run state; see
 * src/operator/README.md. Always/RerunOnFailure/Halted VMs are started and stopped through
 * spec.runStrategy; Manual and Once VMs, which have no standing wish to run, through a
 * one-shot annotation that the operator removes once it has acted on it.
 */
export const ANNOTATION_STATE_REQUEST = `${GROUP}/state-request`;
/** Restart request: any new value (the CLI writes an RFC 3339 time) asks for one restart. */
export const ANNOTATION_RESTART_REQUESTED = `${GROUP}/restart-requested`;

export type StateRequest = "start" | "stop";

/** Strategies where the state-request annotation means something. */
const REQUESTABLE: ReadonlySet<VirtualMachineSpec["runStrategy"]> = new Set(["Manual", "Once"]);

export interface UserRequests {
  /** A start/stop to act on, if any. */
  state?: StateRequest;
  /** The annotation is present but cannot be honoured; the operator removes it and says why. */
  rejectedState?: { value: string; why: string };
  /** A restart request not yet handled: its value, recorded in status once acted upon. */
  restart?: string;
}

export function readUserRequests(vm: VirtualMachine): UserRequests {
  const annotations = vm.metadata.annotations ?? {};
  const requests: UserRequests = {};
  const state = annotations[ANNOTATION_STATE_REQUEST];
  if (state !== undefined) {
    if (state !== "start" && state !== "stop") {
      requests.rejectedState = { value: state, why: 'the value must be "start" or "stop"' };
    } else if (!REQUESTABLE.has(vm.spec.runStrategy)) {
      requests.rejectedState = {
        value: state,
        why: `runStrategy ${vm.spec.runStrategy} is changed through spec.runStrategy (Halted to stop, Always to start)`,
      };
    } else {
      requests.state = state;
    }
  }
  const restart = annotations[ANNOTATION_RESTART_REQUESTED];
  if (restart && restart !== vm.status?.lastRestartRequest) requests.restart = restart;
  return requests;
}
