import type { Env } from "../env";
import type { DeliveryJob } from "./job";

/** Queues.sendBatch takes at most 100 messages per call. */
const SEND_BATCH_LIMIT = 100;

/**
 * Sends one job per delivery. Returns false instead of throwing when the queue refuses:
 * the rows are already stored as pending, so the outbox sweep will enqueue them again.
 */
export async function enqueueDeliveries(env: Env, deliveryIds: string[]): Promise<boolean> {
  try {
    for (let i = 0; i < deliveryIds.length; i += SEND_BATCH_LIMIT) {
      const chunk = deliveryIds.slice(i, i + SEND_BATCH_LIMIT);
      await env.DELIVERY_QUEUE.sendBatch(chunk.map((deliveryId): MessageSendRequest<DeliveryJob> => ({ body: { deliveryId } })));
    }
    return true;
  } catch (error) {
    console.error(JSON.stringify({ message: "enqueue failed; the outbox sweep will retry", error: String(error) }));
    return false;
  }
}
