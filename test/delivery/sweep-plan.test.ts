import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { claimLostDeliveries, writeUnsentFirstSends } from "../../src/delivery/sweep";

describe("the outbox sweep's query", () => {
  it("reads each webhook's primary-key range of deliveries, never the whole table", async () => {
    const plan = (await database(env.DB).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${claimLostDeliveries(Date.now(), 120_000)}`)).map((row) => row.detail);
    expect(
      plan.filter((step) => /^SCAN (d|deliveries)\b/.test(step)),
      plan.join("; "),
    ).toEqual([]);
    expect(
      plan.some((step) => /^SEARCH d USING PRIMARY KEY \(webhook_id=\? AND id>\?\)/.test(step)),
      plan.join("; "),
    ).toBe(true);
  });

  // ("SCAN e" is the walk reading its own co-routine's rows, not the events table.)
  it("walks each tenant's primary-key range of events after the cursor, and finds a delivery's row by its key", async () => {
    const [insert, moveCursor] = writeUnsentFirstSends(Date.now(), 120_000);
    for (const statement of [insert, moveCursor]) {
      const plan = (await database(env.DB).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${statement}`)).map((row) => row.detail);
      expect(
        plan.filter((step) => /^SCAN (events|written|deliveries)\b/.test(step)),
        plan.join("; "),
      ).toEqual([]);
      expect(
        plan.some((step) => /^SEARCH e USING PRIMARY KEY \(tenant_id=\? AND id>\? AND id<\?\)/.test(step)),
        plan.join("; "),
      ).toBe(true);
    }
  });
});
