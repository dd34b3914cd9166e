/**
 * Webhook counters and hourly delivery statistics: every statement that writes or reads them.
 *
 * What they count
 * - webhooks.delivery_count: the webhook's finished deliveries, each once in its current state:
 *   succeeded, or failed for good (a 4xx, a refused attempt, or the last retry of its cycle
 *   failed). Test deliveries included. Pending and cancelled deliveries count in neither.
 * - webhooks.failure_count: those of them that failed for good.
 * - webhooks.last_delivery_at / last_success_at: when the webhook's last attempt, and last
 *   successful one, was made (the latest, not a sum).
 * - webhook_hourly_stats (webhook, hour): attempts made in that hour (first attempts and
 *   retries), deliveries that one of them finished as succeeded, and as failed, and the
 *   response-time histogram of every attempt. An outcome counts in the hour of its attempt,
 *   once, and stays counted: these are history, where the two counters are the current state.
 *
 * When they are written
 * - Delta: the D1 batch that records attempt outcomes (src/delivery/record.ts, consumer and
 *   test endpoint alike) also inserts one webhook_counter_deltas row per write of up to 500
 *   outcomes, in the same transaction as their upserts: right after the one upsert of the
 *   write, if that upsert wrote every row (counterDeltaIfAllWritten), else computed just before
 *   chunked upserts from the rows that qualify (counterDelta):
 *   `counts` {webhookId: [finished, failed, lastAttemptAt, lastSuccessAt]} and `hourly` [webhookId, hour, attempts,
 *   succeeded, failed, histogram]. A webhook's counters cost no write per delivery.
 * - Manual retry and recover (src/services/redelivery.ts): a failed delivery that starts a new
 *   cycle is no longer finished, so the same batch that restarts it inserts a counts-only row
 *   taking its failure back ([-1, -1]); when the new cycle ends it is counted again. A
 *   cancelled one was never counted. The hourly statistics are not corrected: what happened
 *   stays counted in its hour.
 * - Fold: the cron adds every delta row to the webhook rows and to the hourly rows and deletes
 *   the delta rows, in one D1 batch (foldCounterDeltas), about once an hour: in the first run
 *   after the hour of the oldest delta row, or sooner once the rows hold FOLD_AT_ENTRIES
 *   webhook entries (foldCounterDeltasIfDue).
 * - Read: every reader adds the rows not yet folded to the folded values (unfoldedCounts and
 *   withUnfoldedCounts, tenantCounters, hourlyCounts), so an answer is exact whether or not
 *   the cron has run.
 *
 * Why they stay exact
 * - Duplicate jobs: the delta counts only outcomes whose row is still pending at the attempt
 *   count the outcome saw (or, for a first attempt, has no row yet), the very condition of the
 *   upsert in the same transaction (src/delivery/record.ts): either every row was written by the
 *   upsert just before it, or the rows are checked first; a delivery another consumer recorded
 *   first is not counted again.
 * - Retention (RETENTION_SECONDS) deletes delivery rows: nothing here ever recounts them.
 *   Hourly rows are kept 13 months (src/retention/retention.ts), whatever RETENTION_SECONDS.
 * - The fold adds and deletes in one transaction: no delta is counted twice or lost.
 */
import { inArray, type SQL, sql } from "drizzle-orm";
import type { SQLiteSelect } from "drizzle-orm/sqlite-core";
import { addResponseTime, mergeHistogram } from "../lib/response-histogram";
import { runBatch } from "./batch";
import { type Database, database } from "./client";
import { type CounterDelta, type Histogram, type HourlyDeltaEntry, webhookCounterDeltas, webhookHourlyStats } from "./schema";

export const HOUR_MS = 60 * 60 * 1000;
/** The start of the hour `epochMs` falls in: the hourly statistics' key. */
export const hourOf = (epochMs: number) => Math.floor(epochMs / HOUR_MS) * HOUR_MS;

/**
 * What the delta needs of an attempt outcome (src/delivery/record.ts AttemptOutcome): the row it
 * claims (attempts when the job read it), how its delivery stands after it, when and how long.
 */
export interface CountedOutcome {
  webhookId: string;
  deliveryId: string;
  attemptsBefore: number;
  verdict: { status: "success" | "failed" | "pending" };
  result: { attemptedAt: number; responseTimeMs: number };
}

/** Per webhook among the outcomes: finished and failed deliveries, last attempt and last success (CounterDelta). */
function webhookDeltas(outcomes: CountedOutcome[]): Record<string, CounterDelta> {
  const deltas: Record<string, CounterDelta> = {};
  for (const { webhookId, verdict, result } of outcomes) {
    deltas[webhookId] ??= [0, 0, 0, 0];
    const delta = deltas[webhookId];
    if (verdict.status !== "pending") delta[0]++;
    if (verdict.status === "failed") delta[1]++;
    delta[2] = Math.max(delta[2]!, result.attemptedAt);
    if (verdict.status === "success") delta[3] = Math.max(delta[3]!, result.attemptedAt);
  }
  return deltas;
}

/** One outcome as an hourly-stats entry: the hour its attempt was made, and what it did. */
function hourlyEntry(o: CountedOutcome): HourlyDeltaEntry {
  return [
    o.webhookId,
    hourOf(o.result.attemptedAt),
    1,
    o.verdict.status === "success" ? 1 : 0,
    o.verdict.status === "failed" ? 1 : 0,
    addResponseTime({}, o.result.responseTimeMs),
  ];
}

/** The outcomes by webhook and hour (webhook_hourly_stats' delta): a few entries for a chunk, not one per outcome. */
function hourlyEntries(outcomes: CountedOutcome[]): HourlyDeltaEntry[] {
  const byKey = new Map<string, HourlyDeltaEntry>();
  for (const o of outcomes) {
    const entry = hourlyEntry(o);
    const key = `${entry[0]} ${entry[1]}`;
    const sum = byKey.get(key);
    if (!sum) byKey.set(key, entry);
    else {
      for (const i of [2, 3, 4] as const) sum[i] += entry[i];
      mergeHistogram(sum[5], entry[5]);
    }
  }
  return [...byKey.values()];
}

/**
 * A chunk's counter delta, to run just before its upsert in the same D1 batch (one batch is one
 * transaction, so the rows still pending at the attempt count the outcome saw are exactly the
 * rows the upsert writes). If every outcome's row qualifies, the delta computed here is stored
 * as one row. If not, another consumer recorded some of them first (a duplicate job), a rare
 * case: the second statement then stores the delta of just the rows that qualify, each row once.
 */
export function counterDelta(outcomes: CountedOutcome[], now: number): SQL[] {
  const mine = JSON.stringify(
    outcomes.map((o) => ({
      w: o.webhookId,
      id: o.deliveryId,
      before: o.attemptsBefore,
      status: o.verdict.status,
      at: o.result.attemptedAt,
      entry: hourlyEntry(o),
    })),
  );
  const qualifying = sql`SELECT v.value ->> '$.w' AS w, v.value ->> '$.id' AS id, min(v.value ->> '$.status') AS status, min(v.value ->> '$.at') AS at,
      min(v.value -> '$.entry') AS entry
    FROM json_each(${mine}) AS v LEFT JOIN deliveries d ON d.webhook_id = v.value ->> '$.w' AND d.id = v.value ->> '$.id'
    WHERE (d.id IS NULL AND v.value ->> '$.before' = 0) OR (d.status = 'pending' AND d.attempts = v.value ->> '$.before')
    GROUP BY 1, 2`;
  const wholeChunk = sql`INSERT INTO ${webhookCounterDeltas} (counts, hourly, created_at)
    SELECT ${JSON.stringify(webhookDeltas(outcomes))}, ${JSON.stringify(hourlyEntries(outcomes))}, ${now}
    WHERE (SELECT count(*) FROM (${qualifying})) = ${outcomes.length}`;
  const qualifyingOnly = sql`WITH m AS (${qualifying})
    INSERT INTO ${webhookCounterDeltas} (counts, hourly, created_at)
    SELECT (SELECT json_group_object(w, json_array(finished, failed, last, last_success)) FROM (
              SELECT w, sum(status <> 'pending') AS finished, sum(status = 'failed') AS failed, max(at) AS last,
                max(CASE WHEN status = 'success' THEN at ELSE 0 END) AS last_success
              FROM m GROUP BY w)),
           (SELECT json_group_array(json(entry)) FROM m), ${now}
    WHERE changes() = 0 AND EXISTS (SELECT 1 FROM m)`;
  return [wholeChunk, qualifyingOnly];
}

/**
 * The counter delta of a write made by one upsert statement, to run right after it (same
 * batch): stored only if that upsert wrote every outcome's row (changes() counts the rows it
 * inserted and updated), the same condition counterDelta checks before. Otherwise counts is
 * NULL, its NOT NULL constraint fails the batch, and nothing of the write is kept: the recorder
 * writes it again the exact way (src/delivery/record.ts).
 */
export const counterDeltaIfAllWritten = (outcomes: CountedOutcome[], now: number): SQL =>
  sql`INSERT INTO ${webhookCounterDeltas} (counts, hourly, created_at)
    VALUES (CASE WHEN changes() = ${outcomes.length} THEN ${JSON.stringify(webhookDeltas(outcomes))} END, ${JSON.stringify(hourlyEntries(outcomes))}, ${now})`;

/**
 * A manual retry's correction, to run just before the UPDATE that restarts the delivery
 * `failedDelivery` selects (same batch): its failure is taken back if it is failed now.
 */
export const takeBackFailure = (webhookId: string, failedDelivery: SQL, now: number): SQL =>
  sql`INSERT INTO ${webhookCounterDeltas} (counts, created_at)
    SELECT ${JSON.stringify({ [webhookId]: [-1, -1] })}, ${now}
    FROM deliveries WHERE ${failedDelivery} AND deliveries.status = 'failed'`;

/**
 * A recover's correction, to run right after the UPDATE that restarted failed deliveries of
 * the webhook (same batch): changes() is the number it restarted, every one of them failed.
 */
export const takeBackRestartedFailures = (webhookId: string, now: number): SQL =>
  sql`INSERT INTO ${webhookCounterDeltas} (counts, created_at)
    SELECT json_object(${webhookId}, json_array(-changes(), -changes())), ${now} WHERE changes() > 0`;

/**
 * The unfolded counts and times of the webhooks that `webhookIds` (a subquery) selects, in one
 * pass over the delta rows: for a page of webhooks, where a per-row subquery would reread every
 * delta row for each webhook.
 */
export const unfoldedCounts = (db: Database, webhookIds: SQLiteSelect) =>
  db
    .select({
      id: sql<string>`e.key`,
      finished: sql<number>`sum(e.value ->> 0)`.mapWith(Number),
      failed: sql<number>`sum(e.value ->> 1)`.mapWith(Number),
      lastAttemptAt: sql<number>`coalesce(max(e.value ->> 2), 0)`.mapWith(Number),
      lastSuccessAt: sql<number>`coalesce(max(e.value ->> 3), 0)`.mapWith(Number),
    })
    .from(sql`${webhookCounterDeltas} cd, json_each(cd.counts) AS e`)
    .where(inArray(sql`e.key`, webhookIds))
    .groupBy(sql`e.key`);

/** The later of a stored time and an unfolded one (0: none), null if neither. */
const latest = (stored: SQL | number | null, unfoldedAt: SQL | number) => sql`nullif(max(coalesce(${stored}, 0), ${unfoldedAt}), 0)`;

type Unfolded = { id: string; finished: number; failed: number; lastAttemptAt: number; lastSuccessAt: number };
const laterOf = (stored: number | null, unfoldedAt = 0) => Math.max(stored ?? 0, unfoldedAt) || null;

/** A page of webhook rows (their folded values) with the unfolded ones unfoldedCounts read for them added. */
export function withUnfoldedCounts<
  Row extends { id: string; deliveryCount: number; failureCount: number; lastDeliveryAt: number | null; lastSuccessAt: number | null },
>(rows: Row[], unfoldedRows: Unfolded[]): Row[] {
  const byId = new Map(unfoldedRows.map((u) => [u.id, u]));
  return rows.map((row) => {
    const u = byId.get(row.id);
    return {
      ...row,
      deliveryCount: row.deliveryCount + (u?.finished ?? 0),
      failureCount: row.failureCount + (u?.failed ?? 0),
      lastDeliveryAt: laterOf(row.lastDeliveryAt, u?.lastAttemptAt),
      lastSuccessAt: laterOf(row.lastSuccessAt, u?.lastSuccessAt),
    };
  });
}

/**
 * A tenant's finished and failed deliveries, all webhooks together (soft-deleted ones included:
 * their deliveries were made): the folded counters plus the deltas not yet folded. One row,
 * { finished, failed }.
 */
export const tenantCounters = (tenantId: string): SQL =>
  sql`SELECT coalesce(sum(finished), 0) AS finished, coalesce(sum(failed), 0) AS failed FROM (
          SELECT delivery_count AS finished, failure_count AS failed FROM webhooks WHERE tenant_id = ${tenantId}
          UNION ALL
          SELECT e.value ->> 0, e.value ->> 1 FROM ${webhookCounterDeltas} cd, json_each(cd.counts) AS e WHERE e.key IN (SELECT id FROM webhooks WHERE tenant_id = ${tenantId}))`;

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
    sql`UPDATE webhooks SET delivery_count = delivery_count + t.finished, failure_count = failure_count + t.failed,
      last_delivery_at = ${latest(sql`webhooks.last_delivery_at`, sql`t.last`)}, last_success_at = ${latest(sql`webhooks.last_success_at`, sql`t.last_success`)}
    FROM (SELECT e.key AS id, sum(e.value ->> 0) AS finished, sum(e.value ->> 1) AS failed,
            coalesce(max(e.value ->> 2), 0) AS last, coalesce(max(e.value ->> 3), 0) AS last_success
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

/**
 * The unfolded webhook entries at which the cron folds before the hour is over. Every reader
 * scans all the delta rows (unfoldedCounts, tenantCounters, hourlyCounts), so this bounds
 * their work; below it, deltas wait for the hour to end, so that a webhook's two fold writes
 * (its counters, its hour of statistics) are made about once an hour rather than once a
 * minute, whatever its traffic: a webhook with one delivery a minute paid two rows for each.
 */
export const FOLD_AT_ENTRIES = 10_000;

/**
 * The cron's fold, if due at `now`: once the oldest delta row was written in an earlier hour,
 * or once the rows hold FOLD_AT_ENTRIES webhook entries (a row's hourly entries, one for a
 * correction row). One read when not due; whether it is does not matter to exactness, since
 * readers add what is not folded and the fold is atomic. True if it folded.
 */
export async function foldCounterDeltasIfDue(d1: D1Database, now: number): Promise<boolean> {
  const [backlog] = await database(d1)
    .select({
      oldest: sql<number | null>`min(${webhookCounterDeltas.createdAt})`,
      entries: sql<number>`coalesce(sum(coalesce(json_array_length(${webhookCounterDeltas.hourly}), 1)), 0)`.mapWith(Number),
    })
    .from(webhookCounterDeltas);
  const due = backlog?.oldest != null && (hourOf(backlog.oldest) < hourOf(now) || backlog.entries >= FOLD_AT_ENTRIES);
  if (due) await foldCounterDeltas(d1);
  return due;
}

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
