import { sql } from "drizzle-orm";
import { runBatch } from "../db/batch";

interface Counted {
  key: string;
  n: number;
}

const toRecord = (rows: Record<string, unknown>[]) => Object.fromEntries((rows as unknown as Counted[]).map((r) => [r.key, r.n]));
const round = (value: unknown, digits: number) => (value == null ? null : Number(Number(value).toFixed(digits)));

/** The tenant's support and delivery figures, in one D1 round trip. */
export async function tenantStats(d1: D1Database, tenantId: string) {
  const [byStatus, byCategory, totals, ratings, deliveriesByStatus] = (
    await runBatch(d1, [
      sql`SELECT status AS key, count(*) AS n FROM queries WHERE tenant_id = ${tenantId} GROUP BY status`,
      sql`SELECT category AS key, count(*) AS n FROM queries WHERE tenant_id = ${tenantId} GROUP BY category`,
      sql`SELECT count(*) AS total, coalesce(sum(escalated), 0) AS escalated, avg(resolution_time_seconds) AS mean_resolution
        FROM queries WHERE tenant_id = ${tenantId}`,
      sql`SELECT avg(rating) AS mean_rating, count(*) AS n FROM feedback WHERE tenant_id = ${tenantId}`,
      // Through the tenant's webhooks, so each count is a primary-key range scan.
      sql`SELECT d.status AS key, count(*) AS n FROM webhooks w JOIN deliveries d ON d.webhook_id = w.id
        WHERE w.tenant_id = ${tenantId} GROUP BY d.status`,
    ])
  ).map((result) => result.results);
  const { total, escalated, mean_resolution } = totals[0] as { total: number; escalated: number; mean_resolution: number | null };
  const { n: ratingCount, mean_rating } = ratings[0] as { n: number; mean_rating: number | null };
  return {
    queries: {
      total,
      by_status: { open: 0, escalated: 0, resolved: 0, ...toRecord(byStatus) },
      by_category: toRecord(byCategory),
      escalation_rate: total === 0 ? 0 : round(escalated / total, 4),
      mean_resolution_time_seconds: round(mean_resolution, 1),
    },
    feedback: { count: ratingCount, mean_rating: round(mean_rating, 2) },
    deliveries: { by_status: { pending: 0, success: 0, failed: 0, cancelled: 0, ...toRecord(deliveriesByStatus) } },
  };
}
