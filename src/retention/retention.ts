import { sql } from "drizzle-orm";
import type { Config } from "../config";
import { database } from "../db/client";
import type { Env } from "../env";
import { firstTimeOrderedId } from "../lib/ids";

/**
 * Rows one DELETE removes at most, and DELETEs per cron run. Each DELETE is a short write
 * transaction (other writers wait for D1's single writer only that long), and a run makes at
 * most 4 + 2 + 1 of them: with the sweep, the fold and the re-seal, far below the 50 D1 queries
 * a Free-plan invocation may make. 2,000 deliveries and 1,000 events a minute is 2.9 million
 * deliveries a day; a deployment above that raises the chunk counts (the Paid plan allows
 * 1,000 queries per invocation).
 */
export const RETENTION_CHUNK = 500;
export const DELIVERY_CHUNKS_PER_RUN = 4;
export const EVENT_CHUNKS_PER_RUN = 2;

/** Hourly statistics are kept this long (13 months: a year-on-year chart), whatever RETENTION_SECONDS. */
export const HOURLY_STATS_RETENTION_MS = 396 * 24 * 60 * 60 * 1000;

/**
 * An event's deliveries are created in its publish request, just after it: their ids may be a
 * little later than the event's. The pending check looks this far past the cutoff.
 */
const PUBLISH_MARGIN_MS = 5 * 60 * 1000;

/*
 * The chunks' statements. CROSS JOIN makes SQLite read webhooks first and seek each webhook's
 * key range (webhook_id, id < cutoff): with a plain JOIN and no table statistics it scans the
 * whole deliveries table instead (test/retention/retention.test.ts checks the plans).
 */

/** Up to a chunk of finished deliveries created before the cutoff id. */
export const expiredDeliveries = (cutoffId: string) => sql`DELETE FROM deliveries WHERE (webhook_id, id) IN (
    SELECT d.webhook_id, d.id FROM webhooks w CROSS JOIN deliveries d ON d.webhook_id = w.id AND d.id < ${cutoffId}
    WHERE d.status <> 'pending' LIMIT ${RETENTION_CHUNK})`;

/**
 * Up to a chunk of the oldest events created before the cutoff id (each tenant's key range, tenants first), but none with a pending
 * delivery created before pendingBound, and none redelivered since the cutoff: a redelivery
 * (POST /events/{id}/redeliver) makes new deliveries, with new ids, for an old event; once its
 * last send (events.redelivered_at) is past the cutoff too, those are in the ranges checked.
 */
export const expiredEvents = (cutoffId: string, pendingBound: string, cutoff: number) => sql`WITH still_pending AS (
    SELECT d.event_id FROM webhooks w CROSS JOIN deliveries d ON d.webhook_id = w.id AND d.id < ${pendingBound} WHERE d.status = 'pending')
  DELETE FROM events WHERE (tenant_id, id) IN (
    SELECT e.tenant_id, e.id FROM tenants t CROSS JOIN events e ON e.tenant_id = t.id AND e.id < ${cutoffId}
    WHERE e.id NOT IN (SELECT event_id FROM still_pending) AND coalesce(e.redelivered_at ->> '$[#-1]', 0) < ${cutoff}
    LIMIT ${RETENTION_CHUNK})`;

/** Up to a chunk of hourly statistics rows of hours before `before`. */
export const expiredHourlyStats = (before: number) => sql`DELETE FROM webhook_hourly_stats WHERE (webhook_id, hour) IN (
    SELECT s.webhook_id, s.hour FROM webhooks w CROSS JOIN webhook_hourly_stats s ON s.webhook_id = w.id AND s.hour < ${before}
    LIMIT ${RETENTION_CHUNK})`;

export interface RetentionRun {
  deliveries: number;
  events: number;
  hourlyStats: number;
}

/**
 * The cron's retention step: deletes finished deliveries (success, failed, cancelled) and
 * events created before now − RETENTION_SECONDS in chunks of RETENTION_CHUNK.
 * Every chunk is a primary-key range: deliveries per webhook (webhook_id, id < cutoff id, read in
 * key order, so each webhook's oldest go first; the ids are UUIDv7, so the cutoff is an id), and
 * events per tenant (tenant_id, id < cutoff id), oldest first. A pending delivery is never deleted,
 * nor its event. Events are deleted only once the old deliveries are gone (a run deleted less
 * than a full chunk of them), so what is left in the old key ranges is the few pending
 * deliveries, which the events' check reads instead of the whole log.
 */
export async function deleteExpired(env: Env, config: Config, now = Date.now()): Promise<RetentionRun> {
  const db = database(env.DB);
  const cutoff = now - config.retentionMs;
  const cutoffId = firstTimeOrderedId(Math.max(0, cutoff));
  const run: RetentionRun = { deliveries: 0, events: 0, hourlyStats: 0 };

  let caughtUp = false;
  for (let i = 0; i < DELIVERY_CHUNKS_PER_RUN && !caughtUp; i++) {
    const { meta } = await db.run(expiredDeliveries(cutoffId));
    run.deliveries += meta.changes;
    caughtUp = meta.changes < RETENTION_CHUNK;
  }

  if (caughtUp) {
    const pendingBound = firstTimeOrderedId(Math.max(0, cutoff + PUBLISH_MARGIN_MS));
    for (let i = 0; i < EVENT_CHUNKS_PER_RUN; i++) {
      const { meta } = await db.run(expiredEvents(cutoffId, pendingBound, cutoff));
      run.events += meta.changes;
      if (meta.changes < RETENTION_CHUNK) break;
    }
  }

  const { meta } = await db.run(expiredHourlyStats(now - HOURLY_STATS_RETENTION_MS));
  run.hourlyStats = meta.changes;
  return run;
}
