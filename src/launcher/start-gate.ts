/**
 * The launcher's start gate: nothing of the guest (disks, QEMU, -incoming) happens before
 * the operator opens it with POST /start. The operator opens it only for the pod whose UID
 * it recorded, so a pod that was created but never recorded never runs a guest. Opening is
 * idempotent; the gate never closes again (a launcher runs one guest once).
 */
export type GateResult = "opened" | "timedOut";

export class StartGate {
  private open_ = false;
  private waiting_ = false;
  private release!: () => void;
  private readonly opened = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  /** True while run() waits at the gate: what GET /status reports as `awaitingStart`. */
  get waiting(): boolean {
    return this.waiting_;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  /** POST /start. Returns whether this call opened it (false: it was open already). */
  open(): boolean {
    if (this.open_) return false;
    this.open_ = true;
    this.release();
    return true;
  }

  /** Resolves once opened, or with "timedOut" after `ms`. */
  async wait(ms: number): Promise<GateResult> {
    if (this.open_) return "opened";
    this.waiting_ = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<GateResult>((resolve) => {
      timer = setTimeout(() => resolve("timedOut"), ms);
    });
    try {
      return await Promise.race([this.opened.then((): GateResult => "opened"), timedOut]);
    } finally {
      clearTimeout(timer);
      this.waiting_ = false;
    }
  }
}
