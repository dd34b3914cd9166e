import { env } from "cloudflare:test";
import type { SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { cancelDeliveries, cancelPendingDeliveries } from "../../src/delivery/cancel";

/** The query plan of a cancel statement (drizzle's SQL, explained by D1's SQLite). */
async function planOf(statement: { toSQL(): { sql: string; params: unknown[] } } | SQL) {
  const query = "toSQL" in statement ? statement.toSQL() : new SQLiteAsyncDialect().sqlToQuery(statement);
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
    .bind(...query.params)
    .all<{ detail: string }>();
  return results.map((row) => row.detail);
}

describe("the one cancel statement", () => {
  const db = database(env.DB);
  const id = "00000000-0000-4000-8000-000000000000";

  it("the consumer's (by delivery): an upsert by primary key (the conflict check), never a scan of deliveries", async () => {
    const event = { tenantId: id, eventId: id, type: "query.created", createdAt: 0 };
    const plan = await planOf(cancelDeliveries([{ webhookId: id, deliveryId: id, event }], Date.now()));
    // The only loop is over the JSON values; each row goes into the key (webhook_id, id) or meets its conflict there.
    expect(plan, plan.join("; ")).toEqual([expect.stringMatching(/^SCAN v VIRTUAL TABLE/)]);
  });

  it("the webhooks service's (all of a webhook's): its primary-key range", async () => {
    const [writtenOnes] = cancelPendingDeliveries(db, id, id, Date.now());
    const plan = await planOf(writtenOnes);
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
