import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { cancelPendingDeliveries } from "../../src/delivery/cancel";

/** The query plan of a cancel statement (drizzle's SQL, explained by D1's SQLite). */
async function planOf(statement: { toSQL(): { sql: string; params: unknown[] } }) {
  const query = statement.toSQL();
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
    .bind(...query.params)
    .all<{ detail: string }>();
  return results.map((row) => row.detail);
}

describe("the one cancel statement", () => {
  const db = database(env.DB);
  const id = "00000000-0000-4000-8000-000000000000";

  it("the consumer's (by delivery): one primary-key lookup per delivery, never a scan", async () => {
    const plan = await planOf(cancelPendingDeliveries(db, { deliveries: [{ webhookId: id, deliveryId: id }] }, Date.now()));
    expect(
      plan.filter((step) => /^SCAN deliveries\b/.test(step)),
      plan.join("; "),
    ).toEqual([]);
    expect(
      plan.some((step) => /^SEARCH deliveries USING PRIMARY KEY \(webhook_id=\? AND id=\?\)/.test(step)),
      plan.join("; "),
    ).toBe(true);
  });

  it("the webhooks service's (all of a webhook's): its primary-key range", async () => {
    const plan = await planOf(cancelPendingDeliveries(db, { webhookId: id }, Date.now()));
    expect(
      plan.filter((step) => /^SCAN deliveries\b/.test(step)),
      plan.join("; "),
    ).toEqual([]);
    expect(
      plan.some((step) => /^SEARCH deliveries USING PRIMARY KEY \(webhook_id=\?\)/.test(step)),
      plan.join("; "),
    ).toBe(true);
  });
});
