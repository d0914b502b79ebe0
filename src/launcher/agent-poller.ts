import type { LauncherStatus } from "../api/launcher.js";
import type { Logger } from "../util/log.js";
import { type GuestAgent, type InterfaceCounters, withTimeout } from "../vmm/index.js";

export type GuestReport = NonNullable<LauncherStatus["guest"]>;

export interface AgentPollSchedule {
  /** Between rounds while the agent answers. */
  intervalMs: number;
  /** First retry once it stopped answering (or before it first did); doubles per miss. */
  retryMs: number;
  /** The longest wait between tries while it does not answer. */
  maxRetryMs: number;
  /** One round (OS info and interfaces) may take this long at most. */
  roundTimeoutMs: number;
}

/**
 * A guest agent comes up late in boot (tens of seconds under TCG) and may go away (reboot,
 * agent restart): poll steadily while it answers, back off while it does not, but never so
 * far that a freshly started agent goes unnoticed for long.
 */
export const AGENT_POLL: AgentPollSchedule = {
  intervalMs: 5_000,
  retryMs: 2_000,
  maxRetryMs: 10_000,
  roundTimeoutMs: 8_000,
};

/** The wait before the next round, after `misses` rounds in a row without an answer. */
export function nextPollDelay(schedule: AgentPollSchedule, misses: number): number {
  if (misses === 0) return schedule.intervalMs;
  return Math.min(schedule.maxRetryMs, schedule.retryMs * 2 ** (misses - 1));
}

/**
 * Polls the guest agent for the launcher's /status: whether it answers, the guest's OS and
 * its interfaces. What it last reported stays while it is not connected (agentConnected
 * says so). Each round is bounded; a stopped poller never polls again.
 */
export class AgentPoller {
  private report: GuestReport | undefined;
  private counters: InterfaceCounters[] = [];
  private misses = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly agent: GuestAgent,
    private readonly log: Logger,
    private readonly schedule: AgentPollSchedule = AGENT_POLL,
  ) {}

  /** Absent before the first round has ended. */
  get status(): GuestReport | undefined {
    return this.report && { ...this.report };
  }

  /** The guest NICs' traffic counters from the last round that answered (for metrics). */
  get networkCounters(): InterfaceCounters[] {
    return this.counters;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => void this.round(), 0);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async round(): Promise<void> {
    const answered = await withTimeout(this.poll(), this.schedule.roundTimeoutMs).catch(
      (err: unknown) => {
        if (this.misses === 0 && this.report?.agentConnected) {
          this.log.info({ err }, "guest agent stopped answering");
        }
        return undefined;
      },
    );
    if (this.stopped) return;
    if (answered) {
      if (!this.report?.agentConnected) {
        this.log.info({ osInfo: answered.osInfo }, "guest agent connected");
      }
      this.report = answered;
      this.misses = 0;
    } else {
      this.misses++;
      this.report = { ...this.report, agentConnected: false };
    }
    this.timer = setTimeout(() => void this.round(), nextPollDelay(this.schedule, this.misses));
    this.timer.unref();
  }

  private async poll(): Promise<GuestReport> {
    const osInfo = await this.agent.osInfo();
    const { interfaces, counters } = await this.agent.interfaceReport();
    if (!this.stopped) this.counters = counters;
    return { agentConnected: true, osInfo, interfaces: interfaces.slice(0, 64) };
  }
}
