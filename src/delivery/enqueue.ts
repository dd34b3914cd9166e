import type { Env } from "../env";
import { MAX_DELIVERIES_PER_JOB, type DeliveryJob, type DeliveryRef } from "./job";

/** Queues.sendBatch takes at most 100 messages per call. */
const SEND_BATCH_LIMIT = 100;

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Packs deliveries into jobs and sends them, delayed if asked. */
export async function sendJobs(env: Env, refs: DeliveryRef[], delaySeconds?: number): Promise<void> {
  const jobs = chunk(refs, MAX_DELIVERIES_PER_JOB).map((deliveries): MessageSendRequest<DeliveryJob> => ({ body: { deliveries } }));
  for (const messages of chunk(jobs, SEND_BATCH_LIMIT)) await env.DELIVERY_QUEUE.sendBatch(messages, delaySeconds ? { delaySeconds } : undefined);
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
    console.error(JSON.stringify({ message: "enqueue failed; the outbox sweep will retry", error: String(error) }));
    return false;
  }
}
