import {
  type IncomingAnswer,
  IncomingAnswer as IncomingAnswerSchema,
  type IncomingRequestInput,
  LauncherMigrationState,
  type LauncherStatus,
  MIGRATION_INCOMING_PATH,
  MIGRATION_PATH,
  type MigrateRequestInput,
} from "../../api/index.js";
import type { LauncherAddress, LauncherClient } from "../launcher-client.js";

/**
 * The operator's side of the launcher migration endpoints (src/api/launcher-migration.ts),
 * over the same mutual TLS as the rest of the launcher API.
 */
export class MigrationLauncherClient {
  constructor(private readonly launcher: LauncherClient) {}

  status(at: LauncherAddress): Promise<LauncherStatus> {
    return this.launcher.status(at);
  }

  /** Target: open its start gate, so QEMU starts with -incoming (idempotent). */
  start(at: LauncherAddress): Promise<void> {
    return this.launcher.start(at);
  }

  async state(at: LauncherAddress): Promise<LauncherMigrationState> {
    return LauncherMigrationState.parse(await this.launcher.call(at, "GET", MIGRATION_PATH));
  }

  /** Target: listen (idempotent) and say where to send the guest. */
  async listen(at: LauncherAddress, body: IncomingRequestInput): Promise<IncomingAnswer> {
    // Setting up NBD exports takes a moment on a busy node.
    return IncomingAnswerSchema.parse(
      await this.launcher.call(at, "POST", MIGRATION_INCOMING_PATH, body, 15_000),
    );
  }

  /** Source: send the guest (idempotent for the same target address). */
  async send(at: LauncherAddress, body: MigrateRequestInput): Promise<LauncherMigrationState> {
    return LauncherMigrationState.parse(await this.launcher.call(at, "POST", MIGRATION_PATH, body));
  }

  async cancel(at: LauncherAddress): Promise<LauncherMigrationState> {
    // Cancelling waits for QEMU to wind the migration down.
    return LauncherMigrationState.parse(
      await this.launcher.call(at, "DELETE", MIGRATION_PATH, undefined, 30_000),
    );
  }
}
