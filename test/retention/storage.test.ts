import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "../../src/db/counters";
import { eventually, published, receiverWebhook, worker } from "../helpers/delivery";
import { createTenant, type Tenant, uniqueKey } from "../helpers/harness";

/** The database file's size as D1 reports it after a statement (meta.size_after: pages × 4 KiB). */
const databaseBytes = async () => (await env.DB.prepare("SELECT 1").run()).meta.size_after;

async function publishMany(tenant: Tenant, n: number) {
  for (let i = 0; i < n; i += 25) await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => published(tenant, "query.created")));
}

/** Waits until every delivery of the tenant (`n` in all) has left pending. */
async function allFinished(tenant: Tenant, n: number) {
  await eventually(async () => {
    const row = await env.DB.prepare("SELECT count(*) AS n, sum(status = 'pending') AS pending FROM deliveries WHERE tenant_id = ?")
      .bind(tenant.id)
      .first<{ n: number; pending: number }>();
    return row!.n === n && row!.pending === 0;
  }, 90_000);
}

/** The cron's first run of the next hour: it folds the counter deltas (and deletes them), so they are not measured. */
const runCron = async () => {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + HOUR_MS, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
};

/**
 * The storage a delivery costs, measured on real rows written through the API and the
 * consumer (README, Retention: storage per delivery). workerd's D1 has no dbstat and refuses
 * PRAGMA page_count, so the measure is the growth of meta.size_after (whole 4 KiB pages,
 * B-tree fill included) over hundreds of rows.
 */
describe("storage per delivery", () => {
  it("measures bytes per event, per delivery and per hourly row", async () => {
    const figures: Record<string, number> = {};

    const quiet = await createTenant(); // no webhooks: events only
    let before = await databaseBytes();
    await publishMany(quiet, 250);
    figures.event = ((await databaseBytes()) - before) / 250;

    const single = await createTenant();
    await receiverWebhook(single, uniqueKey("size-1"));
    before = await databaseBytes();
    await publishMany(single, 250);
    await allFinished(single, 250);
    await runCron();
    figures.delivery_success_fanout_1 = ((await databaseBytes()) - before) / 250 - figures.event;

    const wide = await createTenant();
    await Promise.all(Array.from({ length: 10 }, () => receiverWebhook(wide, uniqueKey("size-10"))));
    before = await databaseBytes();
    await publishMany(wide, 50);
    await allFinished(wide, 500);
    await runCron();
    figures.delivery_success_fanout_10 = ((await databaseBytes()) - before - 50 * figures.event) / 500;

    const failing = await createTenant();
    await receiverWebhook(failing, uniqueKey("size-500"), "500"); // 3 attempts each, all failed
    before = await databaseBytes();
    await publishMany(failing, 150);
    await allFinished(failing, 150);
    await runCron();
    figures.delivery_failed_3_attempts = ((await databaseBytes()) - before) / 150 - figures.event;

    // Hourly rows as the fold writes them, with a histogram of 6 buckets (a typical hour's spread).
    before = await databaseBytes();
    const rows = Array.from({ length: 5000 }, (_, i) => [crypto.randomUUID(), 1_764_000_000_000 + (i % 24) * 3_600_000]);
    await env.DB.prepare(
      `INSERT INTO webhook_hourly_stats (webhook_id, hour, attempts, succeeded, failed, histogram)
       SELECT v.value ->> 0, v.value ->> 1, 1250, 1190, 12, '{"12":40,"13":310,"14":520,"15":260,"16":95,"19":25}' FROM json_each(?) v`,
    )
      .bind(JSON.stringify(rows))
      .run();
    figures.hourly_row = ((await databaseBytes()) - before) / 5000;

    console.log(JSON.stringify({ storage_bytes: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v)])) }));
    // The bounds the README plans with.
    expect(figures.event).toBeLessThan(1000);
    expect(figures.delivery_success_fanout_1).toBeLessThan(600);
    // Whole 4 KiB pages over 150 rows: a page more or less moves this by 27 bytes, and page
    // splits vary from run to run (1,147 to 1,802 bytes over 50 rows). The README plans with about 1,800.
    expect(figures.delivery_failed_3_attempts).toBeLessThan(2000);
    expect(figures.hourly_row).toBeLessThan(250);
  }, 180_000);
});
