import type { Env } from "../env";
import { loggableError } from "../lib/error-log";
import { type DeliveryJob, type DeliveryRef, MAX_DELIVERIES_PER_JOB } from "./job";
import { type Lane, laneQueue } from "./lanes";

/** Queues.sendBatch takes at most 100 messages per call. */
const SEND_BATCH_LIMIT = 100;

/** The longest delay a queue message may carry (12 hours); longer waits are re-sent when they arrive. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Packs deliveries into jobs of up to 20 and sends them on the fast lane. */
export async function sendJobs(env: Env, refs: DeliveryRef[]): Promise<void> {
  const jobs = chunk(refs, MAX_DELIVERIES_PER_JOB).map((deliveries): MessageSendRequest<DeliveryJob> => ({ body: { deliveries } }));
  for (const messages of chunk(jobs, SEND_BATCH_LIMIT)) await env.DELIVERY_QUEUE.sendBatch(messages);
}

/** A delivery to send on `lane` once `dueAt` (epoch ms) comes. */
export interface ScheduledRef {
  ref: DeliveryRef;
  lane: Lane;
  dueAt: number;
}

/** The queue delay that brings a message back at `dueAt`: whole seconds, rounded up, at most 12 h. */
export const delayUntil = (dueAt: number, now: number) => Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil((dueAt - now) / 1000)));

/**
 * Sends deliveries on their lanes, each due at its own time (retries, deferrals, hand-offs
 * between lanes): those of one lane due in the same second share a job (up to 20), and the
 * jobs go in as few sendBatch calls as the lanes need.
 */
export async function sendScheduled(env: Env, items: ScheduledRef[], now = Date.now()): Promise<void> {
  for (const lane of ["fast", "slow"] as const) {
    const byDelay = new Map<number, DeliveryRef[]>();
    for (const item of items.filter((i) => i.lane === lane)) {
      const delay = delayUntil(item.dueAt, now);
      byDelay.set(delay, [...(byDelay.get(delay) ?? []), item.ref]);
    }
    const messages = [...byDelay].flatMap(([delaySeconds, refs]) =>
      chunk(refs, MAX_DELIVERIES_PER_JOB).map((deliveries): MessageSendRequest<DeliveryJob> => ({ body: { deliveries }, delaySeconds })),
    );
    for (const part of chunk(messages, SEND_BATCH_LIMIT)) await laneQueue(env, lane).sendBatch(part);
  }
}

/**
 * Enqueues new deliveries. Returns false instead of throwing when the queue refuses: the
 * rows are already stored as pending, so the outbox sweep will enqueue them again.
 */
export async function enqueueDeliveries(env: Env, refs: DeliveryRef[]): Promise<boolean> {
  try {
    await sendJobs(env, refs);
    return true;
  } catch (error) {
    console.error(JSON.stringify({ message: "enqueue failed; the outbox sweep will retry", ...loggableError(error) }));
    return false;
  }
}
