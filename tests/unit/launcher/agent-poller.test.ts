import { describe, expect, it } from "vitest";
import { AGENT_POLL, nextPollDelay } from "../../../src/launcher/agent-poller.js";

describe("nextPollDelay", () => {
  it("polls steadily while the agent answers", () => {
    expect(nextPollDelay(AGENT_POLL, 0)).toBe(AGENT_POLL.intervalMs);
  });

  it("backs off while it does not, doubling up to a ceiling that still notices it soon", () => {
    const delays = [1, 2, 3, 4, 5, 50].map((m) => nextPollDelay(AGENT_POLL, m));
    expect(delays).toEqual([2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    for (const [i, d] of delays.entries()) {
      if (i > 0) expect(d).toBeGreaterThanOrEqual(delays[i - 1] as number);
    }
  });
});
