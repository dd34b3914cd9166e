import { avg, count, eq, sql, sum } from "drizzle-orm";
import { HOUR_MS, type HourlyCounts, hourlyCounts, hourOf, tenantCounters } from "../db/counters";
import { type DeliveryStatus, feedback, type Histogram, queries, webhooks } from "../db/schema";
import { unwrittenDeliveries } from "../db/unwritten-deliveries";
import { firstTimeOrderedId } from "../lib/ids";
import { mergeHistogram, quantile } from "../lib/response-histogram";
import { formatTime } from "../lib/time";
import type { ServiceContext } from "./context";
import { findWebhook } from "./webhooks";

const toRecord = (rows: { key: string; n: number }[]): Record<string, number> => Object.fromEntries(rows.map((r) => [r.key, r.n]));
const round = (value: string | number | null, digits: number) => (value === null ? null : Number(Number(value).toFixed(digits)));

export { HOUR_MS };

/**
 * How far back pending and cancelled deliveries are counted: the outbox sweep's window (a
 * pending delivery older than that is no longer re-enqueued either), so the count reads the
 * deliveries created in 9 days, not the whole retained log.
 */
export const PENDING_WINDOW_MS = 9 * 24 * HOUR_MS;

/** Longest range GET /webhooks/{id}/stats answers: 31 days of hourly buckets. */
export const MAX_STATS_HOURS = 31 * 24;

/** Attempts, outcomes and response-time percentiles of some webhook-hours added up. */
function summarise(rows: HourlyCounts[]) {
  const histogram: Histogram = {};
  let attempts = 0;
  let succeeded = 0;
  let failed = 0;
  for (const row of rows) {
    attempts += row.attempts;
    succeeded += row.succeeded;
    failed += row.failed;
    mergeHistogram(histogram, row.histogram);
  }
  return { attempts, succeeded, failed, p50_response_ms: quantile(histogram, 0.5), p95_response_ms: quantile(histogram, 0.95) };
}

/**
 * The tenant's support and delivery figures, in two D1 round trips that never count the
 * delivery log: success and failed come from the webhooks' counters (all time, exact, one row
 * per webhook), pending and cancelled from the deliveries created in PENDING_WINDOW_MS, and
 * the last 24 hours from the hourly statistics.
 */
export async function tenantStats({ db, d1, tenantId }: ServiceContext, now = Date.now()) {
  const tenantWebhooks = db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.tenantId, tenantId)).getSQL();
  const since = hourOf(now) - 23 * HOUR_MS;
  const ofTenant = eq(queries.tenantId, tenantId);
  // Through the tenant's webhooks (CROSS JOIN: in that order), so each count is a primary-key range scan of
  // the window. Raw SQL: drizzle's query builder has no CROSS JOIN (an inner join leaves the order to SQLite).
  // Pending: the written rows and the first sends not written yet (src/db/unwritten-deliveries.ts).
  const openOrCancelledCounts = sql`SELECT key, sum(n) AS n FROM (
      SELECT d.status AS key, count(*) AS n FROM webhooks w CROSS JOIN deliveries d ON d.webhook_id = w.id
      WHERE w.tenant_id = ${tenantId} AND d.id >= ${firstTimeOrderedId(now - PENDING_WINDOW_MS)} AND d.status IN ('pending', 'cancelled')
      GROUP BY d.status
      UNION ALL SELECT 'pending', count(*) FROM (${unwrittenDeliveries(tenantId)}))
    GROUP BY key`;
  // The two raw statements are read through a select from them: drizzle's db.batch cannot run a raw
  // sql`` with parameters (drizzle-orm issue #2277), a select over one it can, with its columns typed.
  const [[byStatus, byCategory, [totals], [ratings], [counters], openOrCancelled], lastDay] = await Promise.all([
    db.batch([
      db.select({ key: queries.status, n: count() }).from(queries).where(ofTenant).groupBy(queries.status),
      db.select({ key: queries.category, n: count() }).from(queries).where(ofTenant).groupBy(queries.category),
      db
        .select({ total: count(), escalated: sum(queries.escalated), meanResolution: avg(queries.resolutionTimeSeconds) })
        .from(queries)
        .where(ofTenant),
      db
        .select({ meanRating: avg(feedback.rating), n: count() })
        .from(feedback)
        .where(eq(feedback.tenantId, tenantId)),
      db.select({ finished: sql<number>`finished`.mapWith(Number), failed: sql<number>`failed`.mapWith(Number) }).from(sql`(${tenantCounters(tenantId)})`),
      db.select({ key: sql<DeliveryStatus>`key`, n: sql<number>`n`.mapWith(Number) }).from(sql`(${openOrCancelledCounts})`),
    ]),
    hourlyCounts(d1, tenantWebhooks, since, since + 24 * HOUR_MS),
  ]);
  const { total } = totals;
  return {
    queries: {
      total,
      by_status: { open: 0, escalated: 0, resolved: 0, ...toRecord(byStatus) },
      by_category: toRecord(byCategory),
      escalation_rate: total === 0 ? 0 : round(Number(totals.escalated ?? 0) / total, 4),
      mean_resolution_time_seconds: round(totals.meanResolution, 1),
    },
    feedback: { count: ratings.n, mean_rating: round(ratings.meanRating, 2) },
    deliveries: {
      by_status: { pending: 0, cancelled: 0, ...toRecord(openOrCancelled), success: counters.finished - counters.failed, failed: counters.failed },
      last_24h: { since: formatTime(since), ...summarise(lastDay) },
    },
  };
}

/**
 * GET /webhooks/{id}/stats: every hour starting in [since, until) (since rounded down to its
 * hour), with hours without attempts as zeros, and the range's totals. One webhook's rows are
 * a primary-key range (webhook_id, hour).
 */
export async function webhookStats({ db, d1, tenantId }: ServiceContext, webhookId: string, range: { since: number; until: number }) {
  const webhook = await findWebhook(db, tenantId, webhookId);
  const since = hourOf(range.since);
  const rows = await hourlyCounts(d1, sql`${webhook.id}`, since, range.until);
  const byHour = new Map<number, HourlyCounts[]>();
  for (const row of rows) byHour.set(row.hour, [...(byHour.get(row.hour) ?? []), row]);
  const hours = [];
  for (let hour = since; hour < range.until; hour += HOUR_MS) hours.push({ hour: formatTime(hour), ...summarise(byHour.get(hour) ?? []) });
  return { webhook_id: webhook.id, since: formatTime(since), until: formatTime(range.until), totals: summarise(rows), hours };
}
