import { inArray, sql, type SQL } from "drizzle-orm";
import type { SQLiteSelect } from "drizzle-orm/sqlite-core";
import type { Database } from "./client";
import { runBatch } from "./batch";
import { webhookCounterDeltas, webhooks } from "./schema";

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
 * Folds every delta row into the webhooks' counters and deletes them, atomically (one D1
 * batch, so nothing is counted twice or lost): one row write per webhook touched since the
 * last fold, instead of one per webhook per consumer batch.
 */
export const foldCounterDeltas = (d1: D1Database) =>
  runBatch(d1, [
    sql`UPDATE webhooks SET delivery_count = delivery_count + t.finished, failure_count = failure_count + t.failed
    FROM (SELECT e.key AS id, sum(e.value ->> 0) AS finished, sum(e.value ->> 1) AS failed
          FROM ${webhookCounterDeltas} cd, json_each(cd.counts) AS e GROUP BY e.key) AS t
    WHERE webhooks.id = t.id`,
    sql`DELETE FROM ${webhookCounterDeltas}`,
  ]);
