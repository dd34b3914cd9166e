import { inArray, sql, type SQL } from "drizzle-orm";
import type { SQLiteSelect } from "drizzle-orm/sqlite-core";
import type { Database } from "./client";
import { runBatch } from "./batch";
import { webhookCounterDeltas, webhookHourlyStats, webhooks, type Histogram } from "./schema";

/**
 * What webhook_counter_deltas holds for one webhook and not yet folded into its row:
 * index 0 the finished deliveries, 1 the failed ones. `webhookId` is a column or value.
 */
export const unfoldedCount = (webhookId: SQL, index: 0 | 1): SQL =>
  sql`coalesce((SELECT sum(json_extract(cd.counts, '$."' || ${webhookId} || '"[${sql.raw(String(index))}]')) FROM ${webhookCounterDeltas} cd), 0)`;

/**
 * The unfolded counts of the webhooks that `webhookIds` (a subquery) selects, in one pass over
 * the delta rows: for a page of webhooks, where a per-row subquery would reread every delta
 * row for each webhook.
 */
export const unfoldedCounts = (db: Database, webhookIds: SQLiteSelect) =>
  db
    .select({ id: sql<string>`e.key`, finished: sql<number>`sum(e.value ->> 0)`.mapWith(Number), failed: sql<number>`sum(e.value ->> 1)`.mapWith(Number) })
    .from(sql`${webhookCounterDeltas} cd, json_each(cd.counts) AS e`)
    .where(inArray(sql`e.key`, webhookIds))
    .groupBy(sql`e.key`);

/** One webhook's counters as the API shows them: the folded value plus the unfolded deltas. */
export const webhookCounters = {
  deliveryCount: sql<number>`${webhooks.deliveryCount} + ${unfoldedCount(sql`${webhooks.id}`, 0)}`.mapWith(Number),
  failureCount: sql<number>`${webhooks.failureCount} + ${unfoldedCount(sql`${webhooks.id}`, 1)}`.mapWith(Number),
};

/**
 * The delta rows' hourly entries summed by webhook and hour, the histograms merged bucket by
 * bucket (`hist` is null for an hour whose attempts carried none).
 */
const HOURLY_DELTA_SUMS = sql`WITH e AS (SELECT j.value AS v FROM ${webhookCounterDeltas} cd, json_each(cd.hourly) AS j),
  totals AS (SELECT v ->> 0 AS w, v ->> 1 AS h, sum(v ->> 2) AS attempts, sum(v ->> 3) AS succeeded, sum(v ->> 4) AS failed FROM e GROUP BY 1, 2),
  buckets AS (SELECT e.v ->> 0 AS w, e.v ->> 1 AS h, b.key AS k, sum(b.value) AS n FROM e, json_each(e.v, '$[5]') AS b GROUP BY 1, 2, 3),
  hist AS (SELECT w, h, json_group_object(k, n) AS histogram FROM buckets GROUP BY 1, 2)`;

/**
 * Folds every delta row into the webhooks' counters and the hourly statistics, and deletes
 * them, atomically (one D1 batch, so nothing is counted twice or lost): one row write per
 * webhook touched since the last fold, plus one per webhook and hour with attempts, instead
 * of one per webhook per consumer batch. An hour already stored gets the new counts added
 * and the histograms merged.
 */
export const foldCounterDeltas = (d1: D1Database) =>
  runBatch(d1, [
    sql`UPDATE webhooks SET delivery_count = delivery_count + t.finished, failure_count = failure_count + t.failed
    FROM (SELECT e.key AS id, sum(e.value ->> 0) AS finished, sum(e.value ->> 1) AS failed
          FROM ${webhookCounterDeltas} cd, json_each(cd.counts) AS e GROUP BY e.key) AS t
    WHERE webhooks.id = t.id`,
    sql`${HOURLY_DELTA_SUMS}
    INSERT INTO ${webhookHourlyStats} (webhook_id, hour, attempts, succeeded, failed, histogram)
    SELECT t.w, t.h, t.attempts, t.succeeded, t.failed, coalesce(hist.histogram, '{}')
    FROM totals t LEFT JOIN hist ON hist.w = t.w AND hist.h = t.h WHERE true
    ON CONFLICT (webhook_id, hour) DO UPDATE SET
      attempts = attempts + excluded.attempts,
      succeeded = succeeded + excluded.succeeded,
      failed = failed + excluded.failed,
      histogram = (SELECT json_group_object(k, n) FROM (
        SELECT b.key AS k, sum(b.value) AS n FROM (
          SELECT key, value FROM json_each(webhook_hourly_stats.histogram) UNION ALL SELECT key, value FROM json_each(excluded.histogram)) AS b
        GROUP BY b.key))`,
    sql`DELETE FROM ${webhookCounterDeltas}`,
  ]);

/** One webhook-hour of statistics, folded or not. */
export interface HourlyCounts {
  webhookId: string;
  hour: number;
  attempts: number;
  succeeded: number;
  failed: number;
  histogram: Histogram;
}

/**
 * The hourly statistics of the webhooks `webhookIds` (a subquery over webhooks.id) for hours in
 * [since, until): the folded rows (a primary-key range per webhook) and the deltas not yet folded,
 * as separate rows (callers add them up): two statements, one D1 round trip.
 */
export async function hourlyCounts(d1: D1Database, webhookIds: SQL, since: number, until: number): Promise<HourlyCounts[]> {
  const [folded, unfolded] = await runBatch<Record<string, unknown>>(d1, [
    sql`SELECT s.webhook_id AS w, s.hour AS h, s.attempts, s.succeeded, s.failed, s.histogram AS hist
      FROM ${webhookHourlyStats} s WHERE s.webhook_id IN (${webhookIds}) AND s.hour >= ${since} AND s.hour < ${until}`,
    sql`${HOURLY_DELTA_SUMS}
      SELECT t.w, t.h, t.attempts, t.succeeded, t.failed, coalesce(hist.histogram, '{}') AS hist
      FROM totals t LEFT JOIN hist ON hist.w = t.w AND hist.h = t.h
      WHERE t.w IN (${webhookIds}) AND t.h >= ${since} AND t.h < ${until}`,
  ]);
  return [...folded.results, ...unfolded.results].map((r) => ({
    webhookId: String(r.w),
    hour: Number(r.h),
    attempts: Number(r.attempts),
    succeeded: Number(r.succeeded),
    failed: Number(r.failed),
    histogram: JSON.parse(String(r.hist)) as Histogram,
  }));
}
