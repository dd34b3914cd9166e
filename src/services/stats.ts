import { sql } from "drizzle-orm";
import { HOUR_MS, hourlyCounts, hourOf, tenantCounters, type HourlyCounts } from "../db/counters";
import type { Database } from "../db/client";
import { runBatch } from "../db/batch";
import { firstTimeOrderedId } from "../lib/ids";
import { mergeHistogram, quantile } from "../lib/response-histogram";
import { formatTime } from "../lib/time";
import type { Histogram } from "../db/schema";
import { findWebhook } from "./webhooks";

interface Counted {
  key: string;
  n: number;
}

const toRecord = (rows: Record<string, unknown>[]) => Object.fromEntries((rows as unknown as Counted[]).map((r) => [r.key, r.n]));
const round = (value: unknown, digits: number) => (value == null ? null : Number(Number(value).toFixed(digits)));

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
export async function tenantStats(d1: D1Database, tenantId: string, now = Date.now()) {
  const tenantWebhooks = sql`SELECT id FROM webhooks WHERE tenant_id = ${tenantId}`;
  const since = hourOf(now) - 23 * HOUR_MS;
  const [batch, lastDay] = await Promise.all([
    runBatch(d1, [
      sql`SELECT status AS key, count(*) AS n FROM queries WHERE tenant_id = ${tenantId} GROUP BY status`,
      sql`SELECT category AS key, count(*) AS n FROM queries WHERE tenant_id = ${tenantId} GROUP BY category`,
      sql`SELECT count(*) AS total, coalesce(sum(escalated), 0) AS escalated, avg(resolution_time_seconds) AS mean_resolution
        FROM queries WHERE tenant_id = ${tenantId}`,
      sql`SELECT avg(rating) AS mean_rating, count(*) AS n FROM feedback WHERE tenant_id = ${tenantId}`,
      tenantCounters(tenantId),
      // Through the tenant's webhooks (CROSS JOIN: in that order), so each count is a primary-key range scan of the window.
      sql`SELECT d.status AS key, count(*) AS n FROM webhooks w CROSS JOIN deliveries d ON d.webhook_id = w.id
        WHERE w.tenant_id = ${tenantId} AND d.id >= ${firstTimeOrderedId(now - PENDING_WINDOW_MS)} AND d.status IN ('pending', 'cancelled')
        GROUP BY d.status`,
    ]),
    hourlyCounts(d1, tenantWebhooks, since, since + 24 * HOUR_MS),
  ]);
  const [byStatus, byCategory, totals, ratings, finished, openOrCancelled] = batch.map((result) => result.results);
  const { total, escalated, mean_resolution } = totals[0] as { total: number; escalated: number; mean_resolution: number | null };
  const { n: ratingCount, mean_rating } = ratings[0] as { n: number; mean_rating: number | null };
  const counters = finished[0] as { finished: number; failed: number };
  return {
    queries: {
      total,
      by_status: { open: 0, escalated: 0, resolved: 0, ...toRecord(byStatus) },
      by_category: toRecord(byCategory),
      escalation_rate: total === 0 ? 0 : round(escalated / total, 4),
      mean_resolution_time_seconds: round(mean_resolution, 1),
    },
    feedback: { count: ratingCount, mean_rating: round(mean_rating, 2) },
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
export async function webhookStats(db: Database, d1: D1Database, tenantId: string, webhookId: string, range: { since: number; until: number }) {
  const webhook = await findWebhook(db, tenantId, webhookId);
  const since = hourOf(range.since);
  const rows = await hourlyCounts(d1, sql`${webhook.id}`, since, range.until);
  const byHour = new Map<number, HourlyCounts[]>();
  for (const row of rows) byHour.set(row.hour, [...(byHour.get(row.hour) ?? []), row]);
  const hours = [];
  for (let hour = since; hour < range.until; hour += HOUR_MS) hours.push({ hour: formatTime(hour), ...summarise(byHour.get(hour) ?? []) });
  return { webhook_id: webhook.id, since: formatTime(since), until: formatTime(range.until), totals: summarise(rows), hours };
}
