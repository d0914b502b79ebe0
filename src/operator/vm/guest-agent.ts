import type { LauncherStatus, VirtualMachineStatus } from "../../api/index.js";
import { findCondition, setCondition } from "./conditions.js";

export const CONDITION_AGENT_CONNECTED = "AgentConnected";

/** Why AgentConnected has the status it has: a closed set. */
export const AgentReason = {
  connected: "AgentConnected",
  /** The launcher polls the agent's channel but nothing answers (no agent, or not up yet). */
  notConnected: "AgentNotConnected",
  /** The launcher runs but has not polled the agent yet. */
  notPolled: "AgentNotPolled",
  /** No guest runs, so no agent either. */
  noGuest: "GuestNotRunning",
} as const;

type GuestFields = Pick<VirtualMachineStatus, "guestOSInfo" | "interfaces" | "conditions">;

/**
 * The guest-agent part of the status while a launcher pod is current: what its /status last
 * said the agent reports. An unanswered /status (undefined) changes nothing: the launcher
 * being briefly unreachable says nothing about the agent. The status fields are only ever
 * copied from the launcher, never from anywhere else (one writer: the VM reconciler).
 */
export function guestAgentStatus(
  status: GuestFields,
  launcher: LauncherStatus | undefined,
  now: Date,
): GuestFields {
  if (!launcher) return status;
  const guest = launcher.guest;
  if (!guest) {
    return agentCondition(
      status,
      false,
      AgentReason.notPolled,
      "the launcher has not polled the guest agent yet",
      now,
    );
  }
  if (!guest.agentConnected) {
    return agentCondition(
      status,
      false,
      AgentReason.notConnected,
      "no guest agent answers on the virtio-serial channel (is qemu-guest-agent installed and running?)",
      now,
    );
  }
  const connected = agentCondition(status, true, AgentReason.connected, "", now);
  return {
    ...connected,
    guestOSInfo: guest.osInfo,
    interfaces: guest.interfaces,
  };
}

/**
 * No guest runs: nothing reported by an agent stays. The condition goes False only where
 * it exists, so VMs that never had a guest carry no agent condition at all.
 */
export function noGuestAgent(status: GuestFields, now: Date): GuestFields {
  const cleared: GuestFields = { ...status, guestOSInfo: undefined, interfaces: undefined };
  if (!findCondition(status.conditions, CONDITION_AGENT_CONNECTED)) return cleared;
  return agentCondition(cleared, false, AgentReason.noGuest, "", now);
}

function agentCondition(
  status: GuestFields,
  connected: boolean,
  reason: (typeof AgentReason)[keyof typeof AgentReason],
  message: string,
  now: Date,
): GuestFields {
  const base: GuestFields = connected
    ? status
    : { ...status, guestOSInfo: undefined, interfaces: undefined };
  return {
    ...base,
    conditions: setCondition(
      status.conditions,
      { type: CONDITION_AGENT_CONNECTED, status: connected ? "True" : "False", reason, message },
      now,
    ),
  };
}
