import { sql } from "drizzle-orm";
import { runBatch } from "../db/batch";
import { firstTimeOrderedId } from "../lib/ids";

export interface RecentCounts {
  succeeded: number;
  failed: number;
  pending: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Deliveries of the last 24 h per webhook, by outcome, in one statement: delivery ids are
 * time-ordered, so each webhook's window is a primary-key range (webhook_id, id >= the first id
 * of 24 h ago), never a scan of its history. Cost: one row read per delivery in the window.
 *
 * STATS PLUG-IN POINT: when webhook_hourly_stats and its function in src/services/stats.ts land
 * on main, this reads the last 24 hourly rows per webhook instead (24 rows per endpoint, whatever
 * its volume), and the endpoint page's chart draws the same rows.
 */
export async function recentDeliveryCounts(d1: D1Database, webhookIds: string[], now = Date.now()): Promise<Map<string, RecentCounts>> {
  const counts = new Map<string, RecentCounts>(webhookIds.map((id) => [id, { succeeded: 0, failed: 0, pending: 0 }]));
  if (webhookIds.length === 0) return counts;
  const since = firstTimeOrderedId(now - DAY_MS);
  const [result] = await runBatch<{ webhook_id: string; status: string; n: number }>(d1, [
    sql`SELECT webhook_id, status, count(*) AS n FROM deliveries
      WHERE webhook_id IN (${sql.join(webhookIds.map((id) => sql`${id}`), sql`, `)}) AND id >= ${since}
      GROUP BY webhook_id, status`,
  ]);
  for (const row of result.results) {
    const entry = counts.get(row.webhook_id)!;
    if (row.status === "success") entry.succeeded += row.n;
    else if (row.status === "failed") entry.failed += row.n;
    else if (row.status === "pending") entry.pending += row.n;
  }
  return counts;
}

/** Succeeded share of finished deliveries, or null when none finished. */
export const successRate = (c: RecentCounts) => (c.succeeded + c.failed === 0 ? null : c.succeeded / (c.succeeded + c.failed));

export interface HourlyCounts {
  /** Start of the hour, epoch seconds (what the chart's time axis takes). */
  hour: number;
  succeeded: number;
  failed: number;
}

const HOUR_MS = 3600 * 1000;

/**
 * A webhook's deliveries per hour over the last 24 h, succeeded and failed, every hour present
 * (zeros included), oldest first. One statement over the same primary-key range as
 * recentDeliveryCounts.
 *
 * STATS PLUG-IN POINT: with webhook_hourly_stats (src/services/stats.ts, on its way to main) this
 * reads the stored hourly rows instead, and the chart gains its 7-day view (168 rows, whatever the
 * volume; counting 7 days of delivery rows per page view would cost too many row reads).
 */
export async function hourlyDeliveryCounts(d1: D1Database, webhookId: string, now = Date.now()): Promise<HourlyCounts[]> {
  const firstHour = Math.floor(now / HOUR_MS) - 23;
  const [result] = await runBatch<{ hour: number; status: string; n: number }>(d1, [
    sql`SELECT created_at / ${sql.raw(String(HOUR_MS))} AS hour, status, count(*) AS n FROM deliveries
      WHERE webhook_id = ${webhookId} AND id >= ${firstTimeOrderedId(firstHour * HOUR_MS)} AND status IN ('success', 'failed')
      GROUP BY hour, status`,
  ]);
  const hours = Array.from({ length: 24 }, (_, i) => ({ hour: ((firstHour + i) * HOUR_MS) / 1000, succeeded: 0, failed: 0 }));
  for (const row of result.results) {
    const slot = hours[row.hour - firstHour];
    if (!slot) continue;
    if (row.status === "success") slot.succeeded += row.n;
    else slot.failed += row.n;
  }
  return hours;
}
