import { randomBytes } from "node:crypto";
import { isNotFound, type KubeClient, paths } from "../kube/client.js";
import type { Logger } from "../util/log.js";
import { rfc3339 } from "./vm/conditions.js";

/** The object an Event is about. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export type EventType = "Normal" | "Warning";

/** client-go folds repeats within this window into one Event with a count. */
const DEDUP_WINDOW_MS = 10 * 60 * 1000;
const MAX_TRACKED = 4096;
const MAX_MESSAGE = 1024;

interface Tracked {
  name: string;
  namespace: string;
  count: number;
  first: string;
  last: number;
}

/**
 * Records core/v1 Events like client-go's recorder: the same reason and message for the
 * same object within ten minutes bumps the count of the existing Event instead of adding
 * one. Recording never fails the caller: Events are for people, not for correctness.
 */
export class EventRecorder {
  private readonly tracked = new Map<string, Tracked>();
  /** One write at a time per key, so a burst of repeats patches rather than duplicates. */
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  record(obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
    const key = [obj.metadata.uid, obj.kind, type, reason, text].join("\u0000");
    const previous = this.inflight.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.write(key, obj, type, reason, text))
      .catch((err) => this.log.warn({ err, reason }, "could not record event"))
      .finally(() => {
        if (this.inflight.get(key) === next) this.inflight.delete(key);
      });
    this.inflight.set(key, next);
    return next;
  }

  /** Resolves once every Event recorded so far has been written (or given up on). */
  async flush(): Promise<void> {
    await Promise.all([...this.inflight.values()]);
  }

  private async write(
    key: string,
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
  ) {
    const now = new Date();
    const stamp = rfc3339(now);
    const seen = this.tracked.get(key);
    if (seen && now.getTime() - seen.last < DEDUP_WINDOW_MS) {
      try {
        await this.client.mergePatch(paths.event(seen.namespace, seen.name), {
          count: seen.count + 1,
          lastTimestamp: stamp,
        });
        seen.count += 1;
        seen.last = now.getTime();
        this.touch(key, seen);
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // Expired or deleted meanwhile: start a new Event.
      }
    }
    const namespace = obj.metadata.namespace || "default";
    const name = `${obj.metadata.name}.${now.getTime().toString(16)}${randomBytes(3).toString("hex")}`;
    await this.client.create(paths.events(namespace), {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    });
    this.touch(key, { name, namespace, count: 1, first: stamp, last: now.getTime() });
  }

  private touch(key: string, entry: Tracked) {
    this.tracked.delete(key);
    this.tracked.set(key, entry);
    if (this.tracked.size > MAX_TRACKED) {
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
  }
}
