import { sql } from "drizzle-orm";
import { runBatch } from "../db/batch";
import { unwrittenDeliveries } from "../db/unwritten-deliveries";
import { firstTimeOrderedId } from "../lib/ids";
import type { ServiceContext } from "../services/context";
import { HOUR_MS, webhookStats } from "../services/stats";

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
 * STATS PLUG-IN POINT: webhook_hourly_stats (src/services/stats.ts) could serve this with 24 rows
 * per endpoint whatever its volume (the chart below reads it already); it also counts pending.
 */
export async function recentDeliveryCounts({ d1, tenantId }: ServiceContext, webhookIds: string[], now = Date.now()): Promise<Map<string, RecentCounts>> {
  const counts = new Map<string, RecentCounts>(webhookIds.map((id) => [id, { succeeded: 0, failed: 0, pending: 0 }]));
  if (webhookIds.length === 0) return counts;
  const since = firstTimeOrderedId(now - DAY_MS);
  const [result] = await runBatch<{ webhook_id: string; status: string; n: number }>(d1, [
    // The ids as one JSON parameter: D1 binds at most 100 per statement, and a tenant may have 100 webhooks.
    // Pending includes the first sends not written yet (src/db/unwritten-deliveries.ts).
    sql`SELECT webhook_id, status, count(*) AS n FROM deliveries
      WHERE webhook_id IN (SELECT value FROM json_each(${JSON.stringify(webhookIds)})) AND id >= ${since}
      GROUP BY webhook_id, status
      UNION ALL SELECT webhook_id, 'pending', count(*) FROM (${unwrittenDeliveries(tenantId, { where: sql`j.value IN (SELECT value FROM json_each(${JSON.stringify(webhookIds)}))` })})
      GROUP BY webhook_id`,
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

/** The chart's two views: the last 24 hours or the last 7 days, hour by hour. */
export const CHART_RANGES = { "24h": 24, "7d": 168 } as const;
export type ChartRange = keyof typeof CHART_RANGES;

/**
 * A webhook's deliveries per hour, succeeded and failed, every hour present (zeros included),
 * oldest first, the last one the current hour: the API's hourly statistics (webhookStats,
 * GET /webhooks/{id}/stats), one stored row per hour whatever the volume.
 */
export async function hourlyDeliveryCounts(ctx: ServiceContext, webhookId: string, range: ChartRange, now = Date.now()): Promise<HourlyCounts[]> {
  const stats = await webhookStats(ctx, webhookId, { since: now - (CHART_RANGES[range] - 1) * HOUR_MS, until: now });
  return stats.hours.map((h) => ({ hour: Date.parse(h.hour) / 1000, succeeded: h.succeeded, failed: h.failed }));
}
