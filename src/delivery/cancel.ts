import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { deliveries } from "../db/schema";
import { unwrittenDeliveries } from "../db/unwritten-deliveries";
import { type DeliveryIdentity, IDENTITY_COLUMNS, identityValue } from "./record";

/** What a cancelled delivery's last_error says (the delivery log shows it). */
export const WEBHOOK_GONE = "webhook deleted or deactivated";

/**
 * Cancels the pending deliveries of a webhook that is deleted or deactivated: they will never
 * be sent. Only pending ones: a delivery already finished keeps its outcome. The webhooks
 * service cancels all of a webhook's in the batch that deletes or deactivates it: the written
 * ones by an UPDATE of its key range, the first sends not written yet (src/db/unwritten-deliveries.ts)
 * by inserting their rows as cancelled, so an attempt in flight finds them cancelled and is not
 * recorded. The consumer cancels those its batch finds on such a webhook (the change came after
 * their jobs were queued) with cancelDeliveries. Cancelled deliveries count in no counter
 * (src/db/counters.ts). Drizzle statements, so callers can put them in their D1 batch.
 */
export function cancelPendingDeliveries(db: Database, tenantId: string, webhookId: string, now: number) {
  const cancelled = { status: "cancelled", finishedAt: now, nextAttemptAt: null, lastError: WEBHOOK_GONE } as const;
  return [
    db
      .update(deliveries)
      .set(cancelled)
      .where(and(eq(deliveries.webhookId, webhookId), eq(deliveries.status, "pending"))),
    db
      .insert(deliveries)
      .select(
        sql`SELECT id, tenant_id, webhook_id, event_id, event_type, ${cancelled.status}, 0, 0, NULL, NULL, ${WEBHOOK_GONE}, NULL, NULL, '[]', created_at, ${now}
          FROM (${unwrittenDeliveries(tenantId, { webhookId })}) WHERE true`,
      )
      .onConflictDoNothing(),
  ] as const;
}

/** The consumer's cancel (see cancelPendingDeliveries): an upsert, whose conflict clause leaves finished rows alone. */
export function cancelDeliveries(targets: DeliveryIdentity[], now: number): SQL {
  return sql`INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, cycle_start, next_attempt_at, last_error, attempt_log, created_at, finished_at)
    SELECT ${IDENTITY_COLUMNS}, 'cancelled', 0, 0, NULL, ${WEBHOOK_GONE}, '[]', v.value ->> '$.created', ${now}
    FROM json_each(${JSON.stringify(targets.map(identityValue))}) AS v WHERE true
    ON CONFLICT (webhook_id, id) DO UPDATE SET status = 'cancelled', finished_at = excluded.finished_at, next_attempt_at = NULL, last_error = excluded.last_error
    WHERE deliveries.status = 'pending'`;
}
