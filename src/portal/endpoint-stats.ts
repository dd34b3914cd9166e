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
