import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { deliveries } from "../db/schema";

/** What a cancelled delivery's last_error says (the delivery log shows it). */
export const WEBHOOK_GONE = "webhook deleted or deactivated";

/** The deliveries to cancel: all of one webhook's, or these (webhook, delivery) pairs. */
export type CancelTarget = { webhookId: string } | { deliveries: Array<{ webhookId: string; deliveryId: string }> };

/**
 * Cancels the pending deliveries of a webhook that is deleted or deactivated: they will never
 * be sent. Only pending ones: a delivery already finished keeps its outcome. The webhooks
 * service cancels all of a webhook's in the batch that deletes or deactivates it; the consumer
 * cancels those its batch finds on such a webhook (the change came after their jobs were
 * queued), by primary key, one statement for the batch. Cancelled deliveries count in no
 * counter (src/db/counters.ts). A statement, so callers can put it in their D1 batch.
 */
export function cancelPendingDeliveries(db: Database, target: CancelTarget, now: number) {
  const cancel = db.update(deliveries).set({ status: "cancelled", finishedAt: now, nextAttemptAt: null, lastError: WEBHOOK_GONE });
  if ("webhookId" in target) return cancel.where(and(eq(deliveries.webhookId, target.webhookId), eq(deliveries.status, "pending")));
  const keys = JSON.stringify(target.deliveries.map((d) => [d.webhookId, d.deliveryId]));
  return cancel
    .from(sql`json_each(${keys}) AS k`)
    .where(and(eq(deliveries.webhookId, sql`k.value ->> 0`), eq(deliveries.id, sql`k.value ->> 1`), eq(deliveries.status, "pending")));
}
