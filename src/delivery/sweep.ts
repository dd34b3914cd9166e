import { sql } from "drizzle-orm";
import { database } from "../db/client";
import { sweepGraceMs, type Env } from "../env";
import { enqueueDeliveries } from "./enqueue";

/** Upper bound per cron run, so one run stays within a Worker invocation's limits. */
const SWEEP_LIMIT = 1000;

/**
 * The outbox sweep (cron): a delivery still pending well past its due time lost its job
 * (the enqueue failed, or the Worker died between the D1 write and the send). It is
 * re-enqueued, and its due time moved to now so the next run leaves it alone while the
 * new job is in flight. Duplicate jobs are harmless: the consumer trusts only the row.
 */
export async function sweepLostDeliveries(env: Env, now = Date.now()): Promise<number> {
  const db = database(env.DB);
  const claimed = await db.all<{ id: string }>(sql`UPDATE deliveries SET next_attempt_at = ${now}
    WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at < ${now - sweepGraceMs(env)} LIMIT ${SWEEP_LIMIT})
    RETURNING id`);
  if (claimed.length > 0) await enqueueDeliveries(env, claimed.map((row) => row.id));
  return claimed.length;
}
