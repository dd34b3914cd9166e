import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { sweepLostDeliveries } from "../../src/delivery/sweep";
import { meterD1, newUsage } from "../../src/lib/usage";
import { type ServiceContext, serviceContext } from "../../src/services/context";
import { listDeliveries } from "../../src/services/deliveries";
import { listEvents } from "../../src/services/event-log";
import { recordingQueue } from "../helpers/delivery";
import { createTenant, createWebhook, webhookBody } from "../helpers/harness";

const LOG_SIZE = 5000;
const PAGE = 50;

/**
 * A large log written in one statement: LOG_SIZE deliveries of one webhook (and as many events
 * of one tenant), one second apart, with UUIDv7 ids made from their times, all older than the
 * sweep's grace. Then the cron's sweep runs, as it does every minute: its cursor passes the
 * events, so a page looks for deliveries not written yet only among newer ones (none here).
 */
async function seedLargeLog(tenantId: string, webhookId: string) {
  const start = Date.now() - (LOG_SIZE + 300) * 1000;
  const uuid7 = (_n: string) => `printf('%08x-%04x-7000-8000-%012x', (${start} + n * 1000) / 65536, (${start} + n * 1000) % 65536, n)`;
  const series = `WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < ${LOG_SIZE - 1})`;
  await env.DB.batch([
    env.DB.prepare(
      `${series} INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, attempt_log, created_at)
       SELECT ${uuid7("n")}, ?, ?, ${uuid7("n")}, 'query.created', 'success', 1, '[]', ${start} + n * 1000 FROM seq`,
    ).bind(tenantId, webhookId),
    env.DB.prepare(
      `${series} INSERT INTO events (id, tenant_id, type, data, deliveries_scheduled, created_at)
       SELECT ${uuid7("n")}, ?, 'query.created', '{}', 1, ${start} + n * 1000 FROM seq`,
    ).bind(tenantId),
  ]);
  await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: recordingQueue().queue }, loadConfig(env));
}

/** Runs a list call over a metered D1 and returns what it returned and the rows D1 reported reading. */
async function metered<T>(tenantId: string, list: (ctx: ServiceContext) => Promise<T>) {
  const usage = newUsage("test");
  const result = await list(serviceContext({ ...env, DB: meterD1(env.DB, usage) }, loadConfig(env), tenantId));
  return { result, rowsRead: usage.d1_rows_read };
}

describe("D1 rows read by a page", () => {
  it("a cursor page deep in a large log reads the same rows as one at the top; skip reads every row it skips", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ events: ["feedback.received"] }));
    await seedLargeLog(tenant.id, webhook.id);
    const deliveriesPage = (options: { skip?: number; before?: string; after?: string }) =>
      metered(tenant.id, (ctx) => listDeliveries(ctx, webhook.id, { skip: 0, limit: PAGE, ...options }));

    // The first page counts the whole log (X-Total-Count); the pages after it follow the cursor.
    const first = await deliveriesPage({});
    expect(first.result.total).toBe(LOG_SIZE);
    expect(first.rowsRead).toBeGreaterThanOrEqual(LOG_SIZE);
    const second = await deliveriesPage({ before: first.result.items.at(-1)!.id });
    const deepAt = (await deliveriesPage({ skip: 4000 })).result.items[0].id; // a cursor 4,000 rows down
    const deep = await deliveriesPage({ before: deepAt });
    const deepBack = await deliveriesPage({ after: deepAt });
    const deepBySkip = await deliveriesPage({ skip: 4001 });

    expect(deep.result.items).toEqual(deepBySkip.result.items);
    expect(deep.result.items).toHaveLength(PAGE);
    // The page, the row that tells more follow, and the sweep cursor's row.
    expect(second.rowsRead).toBeLessThanOrEqual(PAGE + 3);
    expect(deep.rowsRead).toBe(second.rowsRead);
    expect(deepBack.rowsRead).toBe(second.rowsRead);
    expect(deepBySkip.rowsRead).toBeGreaterThan(4000); // offset paging reads what it skips, and counts
  });

  it("the same holds for the event log (its primary key, tenant_id and id)", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ events: ["feedback.received"] }));
    await seedLargeLog(tenant.id, webhook.id);
    const eventsPage = (options: { skip?: number; before?: string }) => metered(tenant.id, (ctx) => listEvents(ctx, { skip: 0, limit: PAGE, ...options }));

    const first = await eventsPage({});
    expect(first.result.total).toBe(LOG_SIZE);
    const second = await eventsPage({ before: first.result.items.at(-1)!.id });
    const deepAt = (await eventsPage({ skip: 4500 })).result.items[0].id;
    const deep = await eventsPage({ before: deepAt });
    expect(deep.result.items).toHaveLength(PAGE);
    expect(second.rowsRead).toBeLessThanOrEqual(PAGE + 2);
    expect(deep.rowsRead).toBe(second.rowsRead);
  });
});
