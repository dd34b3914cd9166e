import { sql } from "drizzle-orm";
import type { Config } from "../config";
import { database } from "../db/client";
import type { Env } from "../env";
import { firstTimeOrderedId } from "../lib/ids";
import { enqueueDeliveries } from "./enqueue";
import type { DeliveryRef } from "./job";

/** Upper bound per cron run, so one run stays within a Worker invocation's limits. */
const SWEEP_LIMIT = 1000;
/**
 * How far back the sweep looks: a retry schedule spans at most 7 days, and a manual retry
 * or recover may restart an older delivery, so 8 days plus a margin; the scan reads only
 * deliveries created in the window (primary-key range per webhook), never the whole history.
 */
const SWEEP_WINDOW_MS = 9 * 24 * 60 * 60 * 1000;

/**
 * The outbox sweep (cron): a delivery still pending well past its due time lost its job
 * (the enqueue failed, or the Worker died between the D1 write and the send). It is
 * re-enqueued, and its due time moved to now so the next run leaves it alone while the
 * new job is in flight. Duplicate jobs are harmless: the consumer trusts only the row.
 * Deliveries of a disabled tenant are left alone: their jobs keep coming back on their own
 * while they wait (the consumer's TENANT_DISABLED_RETRY_MS), and a re-enqueue would add a job each run.
 */
export async function sweepLostDeliveries(env: Env, config: Config, now = Date.now()): Promise<number> {
  const claimed = await database(env.DB).all<DeliveryRef>(claimLostDeliveries(now, config.sweepGraceMs));
  if (claimed.length > 0) await enqueueDeliveries(env, claimed);
  return claimed.length;
}

/**
 * CROSS JOIN keeps SQLite's join order as written: webhooks first, then each webhook's key range
 * of deliveries. With a plain JOIN the planner chose to scan the whole deliveries table.
 */
export function claimLostDeliveries(now: number, graceMs: number) {
  return sql`UPDATE deliveries SET next_attempt_at = ${now}
    WHERE (webhook_id, id) IN (
      SELECT d.webhook_id, d.id FROM webhooks w JOIN tenants t ON t.id = w.tenant_id AND t.disabled_at IS NULL
        CROSS JOIN deliveries d ON d.webhook_id = w.id
      WHERE d.id >= ${firstTimeOrderedId(now - SWEEP_WINDOW_MS)} AND d.status = 'pending'
        AND d.next_attempt_at < ${now - graceMs}
      LIMIT ${SWEEP_LIMIT})
    RETURNING webhook_id AS webhookId, id AS deliveryId, attempts AS attempt`;
}
