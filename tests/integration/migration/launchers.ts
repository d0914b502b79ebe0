import { request } from "node:https";
import { LAUNCHER_MIGRATION_TARGET_FILE } from "../../../src/api/launcher.js";
import {
  type IncomingAnswer,
  LauncherMigrationState,
  MIGRATION_INCOMING_PATH,
  MIGRATION_PATH,
  type MigrateRequestInput,
} from "../../../src/api/launcher-migration.js";
import { issueMigrationTls } from "../../../src/operator/migration/tls.js";
import { GUEST_COUNTER_RE } from "../../../src/vmm/index.js";
import {
  type ConsoleClient,
  LauncherProcess,
  type LaunchOptions,
  type Pki,
} from "../launcher/harness.js";

/** A request with a JSON body over mutual TLS, as the operator sends it. */
export function call(
  l: LauncherProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...l.tlsRequestOptions(),
        path,
        method,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export async function migrationState(l: LauncherProcess): Promise<LauncherMigrationState> {
  const res = await call(l, "GET", MIGRATION_PATH);
  if (res.status !== 200)
    throw new Error(`GET /migrate: ${res.status} ${JSON.stringify(res.json)}`);
  return LauncherMigrationState.parse(res.json);
}

export async function launcherPhase(l: LauncherProcess): Promise<string> {
  const res = await l.get("/status");
  return (JSON.parse(res.body) as { phase: string }).phase;
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Start a target for `source`'s VM and wait until its QEMU waits for the guest. */
export async function startTarget(
  pki: Pki,
  source: LauncherProcess,
  spec: unknown,
  opts: LaunchOptions = {},
): Promise<LauncherProcess> {
  const target = await LauncherProcess.start(pki, source.name, spec, {
    ...opts,
    specFiles: { [LAUNCHER_MIGRATION_TARGET_FILE]: "true" },
  });
  await until("the target to wait for the guest", async () =>
    (await launcherPhase(target)) === "WaitingForMigration" ? true : undefined,
  );
  return target;
}

let migrations = 0;

/** One migration's TLS material, as the operator issues it (a fresh uid unless given). */
export function migrationTls(pki: Pki, uid = `mig-${process.pid}-${++migrations}`) {
  return issueMigrationTls(pki.ca, uid, 600_000);
}

/** As the operator does: ask the target to listen (over mutual TLS for `tls`). */
export async function listen(
  target: LauncherProcess,
  tls: Awaited<ReturnType<typeof migrationTls>>,
): Promise<IncomingAnswer> {
  const res = await call(target, "POST", MIGRATION_INCOMING_PATH, { tls: tls.target });
  if (res.status !== 200) throw new Error(`incoming: ${JSON.stringify(res.json)}`);
  return res.json as IncomingAnswer;
}

/** As the operator does: ask the source to send to where the target listens. */
export async function send(
  source: LauncherProcess,
  target: LauncherProcess,
  answer: IncomingAnswer,
  tls: Awaited<ReturnType<typeof migrationTls>>,
  extra: Partial<MigrateRequestInput> = {},
): Promise<void> {
  const body = { ...answer, targetIP: target.ip, tls: tls.source, ...extra };
  const start = await call(source, "POST", MIGRATION_PATH, body);
  if (start.status !== 202) throw new Error(`migrate: ${JSON.stringify(start.json)}`);
}

/** Ask the target to listen, then the source to send; returns the target's answer. */
export async function beginMigration(
  source: LauncherProcess,
  target: LauncherProcess,
  extra: Partial<MigrateRequestInput> = {},
): Promise<IncomingAnswer> {
  const tls = await migrationTls(source.pki);
  const answer = await listen(target, tls);
  await send(source, target, answer, tls, extra);
  return answer;
}

export interface Count {
  n: number;
  uptime: number;
}

/** The guest's counter lines seen on one console so far. */
export function counts(console: ConsoleClient): Count[] {
  const re = new RegExp(GUEST_COUNTER_RE.source, "g");
  return [...console.received.matchAll(re)].map((m) => ({
    n: Number(m[1]),
    uptime: Number(m[2]),
  }));
}
