import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { deliveryLogQueries } from "../../src/services/deliveries";

/** The query plan of a delivery-log page: written rows and unwritten first sends in one compound SELECT. */
async function planOf(options: Parameters<typeof deliveryLogQueries>[2]) {
  const id = crypto.randomUUID();
  const { page } = deliveryLogQueries(id, id, options);
  return (await database(env.DB).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${page}`)).map((row) => row.detail);
}

describe("the delivery log's page", () => {
  for (const options of [
    { skip: 0, limit: 50 },
    { skip: 0, limit: 50, before: "01900000-0000-7000-8000-000000000000" },
    { skip: 0, limit: 50, after: "01900000-0000-7000-8000-000000000000" },
  ]) {
    it(`merges the two in key order, reading the webhook's rows along its key (${JSON.stringify(options)})`, async () => {
      const plan = await planOf(options);
      // Both arms come in key order, so LIMIT stops the merge early (no sort of the whole log); unwritten ones from the events after the cursor.
      expect(plan, plan.join("; ")).toContain("MERGE (UNION ALL)");
      expect(
        plan.filter((step) => step.includes("TEMP B-TREE")),
        plan.join("; "),
      ).toEqual([]);
      expect(
        plan.some((step) => /^SEARCH deliveries USING PRIMARY KEY \(webhook_id=\?/.test(step)),
        plan.join("; "),
      ).toBe(true);
      expect(
        plan.some((step) => /^SEARCH events USING PRIMARY KEY \(tenant_id=\? AND id>\?/.test(step)),
        plan.join("; "),
      ).toBe(true);
      expect(
        plan.filter((step) => /^SCAN (deliveries|events)\b/.test(step)),
        plan.join("; "),
      ).toEqual([]);
    });
  }
});
