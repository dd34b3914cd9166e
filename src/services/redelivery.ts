import { and, eq, sql } from "drizzle-orm";
import { runBatch } from "../db/batch";
import { takeBackFailure, takeBackRestartedFailures } from "../db/counters";
import { deliveries, type WebhookRow } from "../db/schema";
import { enqueueDeliveries } from "../delivery/enqueue";
import type { DeliveryRef } from "../delivery/job";
import { DomainError } from "../lib/errors";
import { firstTimeOrderedId } from "../lib/ids";
import type { ServiceContext } from "./context";
import { deliveryView, findDelivery } from "./deliveries";
import { findWebhook } from "./webhooks";

/**
 * Manual redelivery: a finished delivery gets a new attempt cycle. The row goes back to
 * pending, due now, and cycle_start remembers how many attempts came before, so the
 * consumer restarts the webhook's retry schedule while the attempt log (and the attempt
 * numbers) keep counting. Each is one D1 batch (the rows and the counter correction
 * together), then the jobs are enqueued; if the enqueue fails, the outbox sweep sends them.
 *
 * Webhook counters count finished deliveries; a failed one that starts again is no longer
 * finished, so its failure is taken back with a negative counter-delta row (cancelled ones
 * were never counted). When the new cycle ends, the consumer counts it again.
 */

/** At most this many deliveries per recover call: one UPDATE … RETURNING and 50 queue messages (20 deliveries each). */
export const RECOVER_LIMIT = 1000;

/** The SET clause that starts a new attempt cycle, due now. */
const newCycle = (now: number) => sql`status = 'pending', cycle_start = attempts, next_attempt_at = ${now}, finished_at = NULL`;

/** Redelivering to an inactive webhook would only cancel the delivery again: it has to be re-enabled first. */
function assertActive(webhook: WebhookRow) {
  if (!webhook.isActive) throw new DomainError("conflict", "The webhook is inactive; re-enable it (PUT is_active: true) before redelivering");
}

interface RestartedRow {
  webhook_id: string;
  id: string;
  attempts: number;
}

/**
 * POST /webhooks/{id}/deliveries/{delivery_id}/retry: a failed or cancelled delivery starts
 * a new attempt cycle now. 409 for a pending or succeeded one.
 */
export async function retryDelivery(ctx: ServiceContext, webhookId: string, deliveryId: string) {
  const { db, d1, env, tenantId } = ctx;
  const webhook = await findWebhook(db, tenantId, webhookId);
  const row = await findDelivery(ctx, webhook.id, deliveryId);
  const thisDelivery = and(eq(deliveries.webhookId, webhook.id), eq(deliveries.id, deliveryId));
  if (row.status !== "failed" && row.status !== "cancelled") {
    throw new DomainError("conflict", `Only a failed or cancelled delivery can be retried; this one is ${row.status}`);
  }
  assertActive(webhook);

  const now = Date.now();
  // The correction comes first, reading the status the UPDATE is about to change; one batch is one transaction.
  const [, restarted] = await runBatch<RestartedRow>(d1, [
    takeBackFailure(webhook.id, thisDelivery!, now),
    sql`UPDATE ${deliveries} SET ${newCycle(now)}
      WHERE ${thisDelivery} AND ${deliveries.status} IN ('failed', 'cancelled')
      RETURNING webhook_id, id, attempts`,
  ]);
  const [updated] = restarted.results;
  // Another request restarted it between our read and the batch.
  if (!updated) throw new DomainError("conflict", "The delivery was retried already");

  await enqueueDeliveries(env, [{ webhookId: updated.webhook_id, deliveryId: updated.id, attempt: updated.attempts }]);
  return deliveryView({ ...row, status: "pending", attempts: updated.attempts, cycleStart: updated.attempts, nextAttemptAt: now, finishedAt: null });
}

/** Created times [since, until), epoch ms. */
export interface RecoverRange {
  since: number;
  until: number;
}

/**
 * The failed deliveries of a webhook created in the range, oldest first, up to `limit`,
 * claimed by one UPDATE: the ids are time-ordered, so the range is a primary-key range
 * (webhook_id, id), never a scan of the webhook's whole history. The counter-delta row
 * right after it takes back their failures: changes() is the number the UPDATE claimed.
 */
function recoverStatements(webhookId: string, range: RecoverRange, limit: number, now: number) {
  // Nothing was created before 1970: an earlier bound is the epoch (a UUIDv7 holds no negative time).
  const [from, to] = [range.since, range.until].map((t) => firstTimeOrderedId(Math.max(0, t)));
  const claim = sql`UPDATE deliveries SET ${newCycle(now)}
    WHERE (webhook_id, id) IN (
      SELECT webhook_id, id FROM deliveries
      WHERE webhook_id = ${webhookId} AND id >= ${from} AND id < ${to}
        AND status = 'failed'
      ORDER BY id
      LIMIT ${limit})
    RETURNING webhook_id AS webhookId, id AS deliveryId, attempts AS attempt`;
  return [claim, takeBackRestartedFailures(webhookId, now)];
}

/**
 * POST /webhooks/{id}/recover: re-queues the webhook's failed deliveries created in the
 * range, at most `limit` (RECOVER_LIMIT) per call. has_more when the limit was reached:
 * the same call again continues, since the re-queued deliveries are no longer failed.
 */
export async function recoverDeliveries({ db, d1, env, tenantId }: ServiceContext, webhookId: string, range: RecoverRange, limit = RECOVER_LIMIT) {
  const webhook = await findWebhook(db, tenantId, webhookId);
  assertActive(webhook);
  const [claimed] = await runBatch<DeliveryRef>(d1, recoverStatements(webhook.id, range, limit, Date.now()));
  const refs = claimed.results;
  if (refs.length > 0) await enqueueDeliveries(env, refs);
  return { deliveries_queued: refs.length, has_more: refs.length >= limit };
}
