/**
 * The guest agent's answers (QEMU 7.2's qga schema, the members we read) and pure mappers
 * to the shapes a VM's status reports.
 */

/** `guest-get-osinfo`: the guest's os-release plus uname; every member optional. */
export interface AgentOSInfo {
  id?: string;
  name?: string;
  "pretty-name"?: string;
  version?: string;
  "version-id"?: string;
  variant?: string;
  "variant-id"?: string;
  "kernel-release"?: string;
  "kernel-version"?: string;
  machine?: string;
}

export interface AgentIpAddress {
  "ip-address-type": "ipv4" | "ipv6";
  "ip-address": string;
  prefix: number;
}

/** GuestNetworkInterfaceStat: the guest kernel's counters of one NIC. */
export interface AgentInterfaceStats {
  "rx-bytes": number;
  "rx-packets": number;
  "rx-errs": number;
  "rx-dropped": number;
  "tx-bytes": number;
  "tx-packets": number;
  "tx-errs": number;
  "tx-dropped": number;
}

/** One entry of `guest-network-get-interfaces`. */
export interface AgentInterface {
  name: string;
  "hardware-address"?: string;
  "ip-addresses"?: AgentIpAddress[];
  statistics?: AgentInterfaceStats;
}

/** A guest NIC's traffic as the guest counted it (cumulative since the guest booted). */
export interface InterfaceCounters {
  name: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

export interface AgentInfo {
  version: string;
  supported_commands: { name: string; enabled: boolean; "success-response": boolean }[];
}

/** What the VM status says about the guest OS; a member the guest did not report is absent. */
export interface GuestOSInfo {
  /** os-release ID: `debian`, `ubuntu`, `mswindows`, … */
  id?: string;
  /** os-release NAME: `Debian GNU/Linux`. */
  name?: string;
  /** os-release VERSION_ID (`12`), else VERSION. */
  version?: string;
  /** `uname -r`. */
  kernelRelease?: string;
}

export interface GuestInterface {
  name: string;
  mac?: string;
  /** Addresses without prefix length, in the agent's order. */
  ipAddresses: string[];
}

export function guestOSInfo(raw: AgentOSInfo): GuestOSInfo {
  const info: GuestOSInfo = {};
  const set = (key: keyof GuestOSInfo, value: string | undefined) => {
    if (value) info[key] = value;
  };
  set("id", raw.id);
  set("name", raw.name);
  set("version", raw["version-id"] ?? raw.version);
  set("kernelRelease", raw["kernel-release"]);
  return info;
}

function isLoopbackAddress(a: AgentIpAddress): boolean {
  return a["ip-address-type"] === "ipv4"
    ? a["ip-address"].startsWith("127.")
    : a["ip-address"] === "::1";
}

/** Loopback by name on Linux, by its addresses elsewhere (Windows names it differently). */
function isLoopback(i: AgentInterface): boolean {
  const ips = i["ip-addresses"] ?? [];
  return i.name === "lo" || (ips.length > 0 && ips.every(isLoopbackAddress));
}

export function guestInterfaces(raw: AgentInterface[]): GuestInterface[] {
  return raw
    .filter((i) => !isLoopback(i))
    .map((i) => ({
      name: i.name,
      ...(i["hardware-address"] ? { mac: i["hardware-address"] } : {}),
      ipAddresses: (i["ip-addresses"] ?? []).map((a) => a["ip-address"]),
    }));
}

/**
 * The guest's own NIC counters: the only per-VM network figures there are with user-mode
 * networking (QEMU 7.2 keeps no byte counts for a `-netdev user`; QMP `query-stats` covers
 * KVM only; the pod's network namespace counts the launcher API and migration streams too).
 * Loopback and interfaces without statistics are left out; at most 64.
 */
export function interfaceCounters(raw: AgentInterface[]): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const i of raw.slice(0, 64)) {
    const s = i.statistics;
    if (!s || isLoopback(i)) continue;
    out.push({
      name: i.name,
      rxBytes: s["rx-bytes"],
      txBytes: s["tx-bytes"],
      rxPackets: s["rx-packets"],
      txPackets: s["tx-packets"],
      rxErrors: s["rx-errs"],
      txErrors: s["tx-errs"],
      rxDropped: s["rx-dropped"],
      txDropped: s["tx-dropped"],
    });
  }
  return out;
}
