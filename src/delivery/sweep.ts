import { sql } from "drizzle-orm";
import type { Config } from "../config";
import { runBatch } from "../db/batch";
import { database } from "../db/client";
import { SWEPT_EVENTS_CURSOR } from "../db/unwritten-deliveries";
import type { Env } from "../env";
import { firstTimeOrderedId } from "../lib/ids";
import { enqueueDeliveries } from "./enqueue";
import type { DeliveryRef } from "./job";

/** Upper bound per cron run, so one run stays within a Worker invocation's limits. */
const SWEEP_LIMIT = 1000;
/**
 * Events the unwritten-deliveries walk looks at per run: a minute of publishing at 80 events a
 * second. Above that the cursor falls behind and catches up in quieter minutes; the log's
 * unwritten deliveries are read from more events meanwhile, none is missed.
 */
const SWEEP_EVENTS_PER_RUN = 5000;
/**
 * How far back the sweep looks: a retry schedule spans at most 7 days, and a manual retry
 * or recover may restart an older delivery, so 8 days plus a margin; the scan reads only
 * deliveries created in the window (primary-key range per webhook), never the whole history.
 */
const SWEEP_WINDOW_MS = 9 * 24 * 60 * 60 * 1000;

/**
 * The outbox sweep (cron). Two kinds of lost work, both re-enqueued; duplicate jobs are
 * harmless, the consumer trusts only the row (or its absence) and the attempt count.
 * - A written delivery still pending well past its due time lost its job (the enqueue failed,
 *   or the Worker died between the D1 write and the send). Its due time moves to now so the next
 *   run leaves it alone while the new job is in flight. Deliveries of a disabled tenant are left
 *   alone: their jobs keep coming back on their own while they wait (the consumer's
 *   TENANT_DISABLED_RETRY_MS), and a re-enqueue would add a job each run.
 * - A first send still unwritten SWEEP_GRACE after its event (src/db/unwritten-deliveries.ts):
 *   its job was lost, or waits in a backlog. It gets its pending row now, due now, and a job.
 *   Then the "events" cursor moves past the events walked: every delivery before it has a row.
 */
export async function sweepLostDeliveries(env: Env, config: Config, now = Date.now()): Promise<number> {
  const claimed = await database(env.DB).all<DeliveryRef>(claimLostDeliveries(now, config.sweepGraceMs));
  const [written] = await runBatch<DeliveryRef>(env.DB, writeUnsentFirstSends(now, config.sweepGraceMs));
  const lost = [...claimed, ...written.results];
  if (lost.length > 0) await enqueueDeliveries(env, lost);
  return lost.length;
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

/**
 * The events after the cursor and older than the grace, oldest first, each tenant's a
 * primary-key range (CROSS JOIN: tenants first). Events of disabled tenants are walked too: the
 * cursor must pass them, and their new rows wait like any of theirs.
 */
const eventsToWalk = (now: number, graceMs: number) => sql`SELECT e.tenant_id, e.id, e.type, e.created_at, e.webhook_ids
  FROM tenants t CROSS JOIN events e ON e.tenant_id = t.id
  WHERE e.id > max(${SWEPT_EVENTS_CURSOR}, ${firstTimeOrderedId(now - SWEEP_WINDOW_MS)}) AND e.id < ${firstTimeOrderedId(now - graceMs)}
  ORDER BY e.id LIMIT ${SWEEP_EVENTS_PER_RUN}`;

/**
 * One D1 batch: a pending row, due now, for each unwritten first send of the events walked (up
 * to SWEEP_LIMIT), then the cursor moves to the last event walked, but only if every unwritten
 * delivery of them got its row (changes() counts the insert's rows): otherwise the next run walks
 * the same events again and writes the rest.
 */
export function writeUnsentFirstSends(now: number, graceMs: number) {
  const walked = eventsToWalk(now, graceMs);
  return [
    sql`INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, cycle_start, next_attempt_at, attempt_log, created_at)
      SELECT e.id, e.tenant_id, j.value, e.id, e.type, 'pending', 0, 0, ${now}, '[]', e.created_at
      FROM (${walked}) AS e CROSS JOIN json_each(e.webhook_ids) AS j
      WHERE NOT EXISTS (SELECT 1 FROM deliveries AS written WHERE written.webhook_id = j.value AND written.id = e.id)
      LIMIT ${SWEEP_LIMIT}
      ON CONFLICT DO NOTHING
      RETURNING webhook_id AS webhookId, id AS deliveryId, tenant_id AS tenantId, attempts AS attempt`,
    // Only when events were walked (they are all past the cursor): an idle minute writes no row.
    sql`UPDATE sweep_cursors SET value = (SELECT max(id) FROM (${walked}))
      WHERE name = 'events' AND changes() < ${SWEEP_LIMIT} AND EXISTS (${walked})`,
  ];
}
