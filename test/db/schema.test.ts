import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

/**
 * What the migrations must keep that drizzle's schema cannot say (src/db/schema.ts):
 * drizzle-kit has no WITHOUT ROWID (drizzle-orm issue #408), so a generated migration that
 * rebuilds events or deliveries would silently turn them back into rowid tables.
 */
describe("the tables D1 holds after every migration", () => {
  it("keeps events and deliveries WITHOUT ROWID", async () => {
    const { results } = await env.DB.prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'deliveries') ORDER BY name",
    ).all<{ name: string; sql: string }>();
    expect(results.map((t) => t.name)).toEqual(["deliveries", "events"]);
    for (const table of results) expect(table.sql, table.name).toMatch(/\)\s*WITHOUT ROWID\s*$/i);
  });

  it("has no rowid to select in either table", async () => {
    for (const table of ["events", "deliveries"]) {
      await expect(env.DB.prepare(`SELECT rowid FROM ${table} LIMIT 1`).all(), table).rejects.toThrow(/no such column: rowid/);
    }
  });
});
