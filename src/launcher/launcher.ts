import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { LauncherStatus } from "../api/launcher.js";
import { type Logger, logger } from "../util/log.js";
import { prepareUefiVars, uefiVarsTemplate } from "../vmm/firmware.js";
import {
  type AccelerationRequest,
  type Accelerator,
  chooseAccelerator,
  diskNodeName,
  type Readiness,
  validateGuestConfig,
} from "../vmm/index.js";
import { type LauncherServers, startServers } from "./api/server.js";
import type { LauncherView, StartResult } from "./api/view.js";
import { planDisks } from "./disks/plan.js";
import { prepareDisks } from "./disks/prepare.js";
import { gracefulShutdownMs, type LauncherOutcome } from "./exit.js";
import { Guest } from "./guest.js";
import { guestConfigFor, guestProtocol, usesUefi } from "./guest-config.js";
import { apiListenHosts, guestForwardHost, listenScope } from "./listen.js";
import { LauncherMetrics } from "./metrics.js";
import { MigrationControl } from "./migration/control.js";
import { copiedDiskIndexes } from "./migration/disks.js";
import { PhaseOwner } from "./phase.js";
import { type PortRelays, planRelays, startPortRelays } from "./port-relay.js";
import type { LauncherSettings } from "./settings.js";
import { type LaunchedVm, readLaunchedVm } from "./spec.js";
import { StartGate } from "./start-gate.js";

/** The VM's UEFI variable store, in the pod's disks dir: it lives as long as the pod. */
export const UEFI_VARS_FILE = "uefi-vars.fd";
/** The guest agent's socket, in the launcher's run dir. */
export const AGENT_SOCKET_FILE = "agent.sock";
/** QEMU's VNC server, in the launcher's run dir: relayed by /vnc, never on a network port. */
export const VNC_SOCKET_FILE = "vnc.sock";

/** Grace period assumed while the spec (which carries the real one) is not yet read. */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * One launcher run: spec → API servers → disks → guest, until the guest ends or the pod is
 * stopped. Every failure becomes an outcome; nothing escapes as an exception.
 */
export class Launcher implements LauncherView {
  private readonly phases: PhaseOwner;
  private vm: LaunchedVm | undefined;
  private guest: Guest | undefined;
  private servers: LauncherServers | undefined;
  private migrationControl: MigrationControl | undefined;
  /** QEMU block node name → disk name, and the accelerator, once known: metric labels. */
  private drives = new Map<string, string>();
  private accel: { accelerator: Accelerator; requested: AccelerationRequest } | undefined;
  private readonly metricsRegistry = new LauncherMetrics({
    input: () => {
      const vm = this.vm;
      if (!vm) return undefined;
      return {
        vm: { namespace: vm.namespace, name: vm.name },
        ...(this.accel ? { accel: this.accel } : {}),
        network: this.guest?.networkCounters ?? [],
        drives: this.drives,
      };
    },
    stats: async (timeoutMs) => this.guest?.stats(timeoutMs),
  });
  private stopping: Promise<LauncherOutcome> | undefined;
  private readonly gate = new StartGate();
  private resolveStop!: (outcome: LauncherOutcome) => void;
  private readonly stopRequested = new Promise<LauncherOutcome>((resolve) => {
    this.resolveStop = resolve;
  });

  constructor(
    private readonly settings: LauncherSettings,
    private readonly log: Logger,
  ) {
    this.phases = new PhaseOwner(log);
  }

  ready(): boolean {
    return this.guest?.ready ?? false;
  }

  async status(): Promise<LauncherStatus> {
    if (this.guest) return this.guest.status();
    const status: LauncherStatus = { phase: this.phases.phase };
    const message = this.phases.endMessage;
    if (message) status.message = message;
    if (this.gate.waiting) status.awaitingStart = true;
    return status;
  }

  metrics(): Promise<string> {
    return this.metricsRegistry.scrape();
  }

  start(): StartResult {
    if (!this.settings.awaitStart) return "notGated";
    return this.gate.open() ? "opened" : "alreadyOpen";
  }

  serialConsole() {
    return this.guest?.serialConsole;
  }

  migration() {
    return this.guest ? this.migrationControl : undefined;
  }

  guestControl() {
    return this.guest;
  }

  /** The pod's grace period: from SIGTERM until the kubelet kills us. */
  graceMs(): number {
    const seconds =
      this.settings.graceSeconds ??
      this.vm?.spec.terminationGracePeriodSeconds ??
      DEFAULT_GRACE_SECONDS;
    return seconds * 1000;
  }

  /** Run until the guest has ended; resolves with how. */
  async run(): Promise<LauncherOutcome> {
    const outcome = await Promise.race([this.runSteps(), this.stopRequested]);
    this.phases.end(outcome);
    // The guest left for another pod: give the operator a moment to read the final figures.
    if (outcome.kind === "migrated") await this.migrationControl?.finalStateRead();
    return outcome;
  }

  /** SIGTERM: stop the guest gracefully; resolves when it has ended. Idempotent. */
  stop(): Promise<LauncherOutcome> {
    if (!this.stopping) {
      const guest = this.guest;
      // With a guest, the guest moves to Stopping once a migration under way is called back.
      if (!guest) this.phases.transition("Stopping", "asked to stop before the guest started");
      const control = this.migrationControl;
      this.stopping = guest
        ? // A guest on its way out is called back first: stopping it mid-stream would
          // leave it running nowhere.
          (control?.inFlight ? control.cancel() : Promise.resolve()).then(() =>
            guest.stop(gracefulShutdownMs(this.graceMs() / 1000)),
          )
        : Promise.resolve({ kind: "stopped", message: "stopped before the guest started" });
      void this.stopping.then(this.resolveStop);
    }
    return this.stopping;
  }

  async close(): Promise<void> {
    await this.servers?.close();
  }

  private async runSteps(): Promise<LauncherOutcome> {
    const { settings, log } = this;
    let guest: Guest;
    let relays: PortRelays | undefined;
    try {
      const vm = await readLaunchedVm(settings.specFile);
      this.vm = vm;
      log.info({ namespace: vm.namespace, vm: vm.name, uid: vm.uid }, "VM spec read");
      const target = await this.isMigrationTarget();
      this.migrationControl = new MigrationControl({
        role: target ? "target" : "source",
        podIP: settings.podIP,
        log: logger("launcher-migration"),
      });
      this.servers = await startServers({
        hosts: apiListenHosts(settings.podIP),
        port: settings.port,
        probePort: settings.probePort,
        tlsDir: settings.tlsDir,
        view: this,
        log: logger("launcher-api"),
      });
      if (settings.awaitStart) {
        // Nothing of the guest before the operator says so (start-gate.ts).
        log.info({ waitMs: settings.startWaitMs }, "waiting for the operator's POST /start");
        if ((await this.gate.wait(settings.startWaitMs)) === "timedOut") {
          return {
            kind: "neverStarted",
            message: `the operator did not start this launcher within ${Math.round(settings.startWaitMs / 1000)} s`,
          };
        }
        log.info("told to start");
      }
      if (this.stopping) return this.stopping;
      const plans = planDisks(vm, settings);
      const disks = await prepareDisks(plans, log);
      // QEMU's sockets: private to this process (the agent's answers are trusted as status).
      await mkdir(settings.runDir, { recursive: true, mode: 0o700 });
      const uefiVarsPath = join(settings.disksDir, UEFI_VARS_FILE);
      if (usesUefi(vm.spec)) {
        // A target's copy is overwritten from the migration stream; a fresh one is right.
        const template = uefiVarsTemplate(vm.spec.firmware?.secureBoot ?? false);
        const { created } = prepareUefiVars(template, uefiVarsPath);
        log.info({ path: uefiVarsPath, template, created }, "UEFI variable store ready");
      }
      // A pod of its own: QEMU forwards from loopback, the launcher relays (port-relay.ts).
      const relayed =
        listenScope(settings.podIP) === "pod"
          ? await planRelays(
              vm.spec.network.ports.map((p) => ({
                protocol: guestProtocol(p.protocol),
                port: p.port,
              })),
            )
          : [];
      const guestConfig = guestConfigFor(vm, {
        imagesDir: settings.imagesDir,
        forwardHost: guestForwardHost(settings.podIP),
        relayed,
        reservedPorts: [settings.port, settings.probePort],
        disks,
        uefiVarsPath,
        agentSocket: join(settings.runDir, AGENT_SOCKET_FILE),
        vncSocket: join(settings.runDir, VNC_SOCKET_FILE),
        guestOutbound: settings.guestOutbound,
      });
      validateGuestConfig(guestConfig);
      const accel = await chooseAccelerator(
        vm.spec.acceleration,
        settings.qemuBinary ? { qemuBinary: settings.qemuBinary } : {},
      );
      log.info({ accel: accel.accel, reason: accel.reason }, "accelerator chosen");
      this.accel = { accelerator: accel.accel, requested: vm.spec.acceleration };
      this.drives = new Map(guestConfig.disks.map((d, i) => [diskNodeName(i), d.name]));
      if (this.stopping) return this.stopping;
      const readiness: Readiness = settings.bootMarker
        ? { kind: "marker", marker: settings.bootMarker }
        : { kind: "resume" };
      guest = new Guest({
        config: guestConfig,
        accel: accel.accel,
        accelerationReason: accel.reason,
        readiness,
        bootTimeoutMs: settings.bootTimeoutMs,
        incoming: target,
        runDir: settings.runDir,
        phases: this.phases,
        log,
        ...(settings.qemuBinary ? { qemuBinary: settings.qemuBinary } : {}),
      });
      this.migrationControl.attach(guest, copiedDiskIndexes(plans));
      if (relayed.length > 0) {
        relays = await startPortRelays(relayed, apiListenHosts(settings.podIP), log);
      }
    } catch (err) {
      return configError((err as Error).message);
    }
    this.guest = guest;
    this.phases.transition("Starting");
    await guest.start();
    if (guest.qemu && this.migrationControl.role === "target") {
      this.migrationControl.expectIncomingWithin(settings.migrationWaitMs);
    }
    const openRelays = relays;
    return openRelays ? guest.ended.finally(() => openRelays.close()) : guest.ended;
  }

  private async isMigrationTarget(): Promise<boolean> {
    const text = await readFile(this.settings.migrationTargetFile, "utf8").catch(() => "");
    return text.trim() === "true";
  }
}

function configError(message: string): LauncherOutcome {
  return { kind: "configError", message };
}
