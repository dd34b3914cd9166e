import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { database } from "../../src/db/client";
import { firstTimeOrderedId, newTimeOrderedId } from "../../src/lib/ids";
import {
  DELIVERY_CHUNKS_PER_RUN,
  deleteExpired,
  expiredDeliveries,
  expiredEvents,
  expiredHourlyStats,
  HOURLY_STATS_RETENTION_MS,
  RETENTION_CHUNK,
} from "../../src/retention/retention";
import { insertDelivery, worker } from "../helpers/delivery";
import { createTenant, createWebhook, type Tenant, webhookBody } from "../helpers/harness";

const DAY = 24 * 60 * 60 * 1000;
const RETENTION_MS = 2_592_000 * 1000; // wrangler.toml's RETENTION_SECONDS

/**
 * `n` events, each with one delivery to the webhook in `status`, created `ageMs` ago (ids and
 * created_at backdated alike), written by one INSERT per table from a JSON array.
 */
async function backdated(tenant: Tenant, webhookId: string, n: number, status: string, ageMs: number) {
  const rows = Array.from({ length: n }, (_, i) => {
    const createdAt = Date.now() - ageMs + i;
    return { event: newTimeOrderedId(createdAt), delivery: newTimeOrderedId(createdAt), createdAt };
  });
  const json = JSON.stringify(rows);
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO events (id, tenant_id, type, data, deliveries_scheduled, created_at)
       SELECT v.value ->> 'event', ?, 'query.created', '{}', 1, v.value ->> 'createdAt' FROM json_each(?) v`,
    ).bind(tenant.id, json),
    env.DB.prepare(
      `INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, attempt_log, created_at, finished_at)
       SELECT v.value ->> 'delivery', ?, ?, v.value ->> 'event', 'query.created', ?, 1, '[]', v.value ->> 'createdAt', v.value ->> 'createdAt'
       FROM json_each(?) v`,
    ).bind(tenant.id, webhookId, status, json),
  ]);
  return rows;
}

const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;
const deliveriesOf = (webhookId: string, status: string) =>
  count("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ? AND status = ?", webhookId, status);
const eventExists = async (id: string) => (await count("SELECT count(*) AS n FROM events WHERE id = ?", id)) === 1;

describe("retention: the cron deletes finished deliveries and events past RETENTION_SECONDS", () => {
  it("deletes at most its chunks per run; keeps pending deliveries, their events and recent rows", async () => {
    const tenant = await createTenant();
    const [hook, other] = await Promise.all([createWebhook(tenant, webhookBody()), createWebhook(tenant, webhookBody())]);
    const perRun = RETENTION_CHUNK * DELIVERY_CHUNKS_PER_RUN;
    const old = RETENTION_MS + 2 * DAY;
    // More old finished deliveries than one run may delete, in all three finished states.
    const success = await backdated(tenant, hook.id, perRun - 100, "success", old);
    const failed = await backdated(tenant, hook.id, 150, "failed", old - DAY);
    const cancelled = await backdated(tenant, other.id, 50, "cancelled", old - DAY);
    // Old but pending (a disabled tenant's, say): kept with its event.
    const pending = await insertDelivery(tenant, hook.id, { createdAt: Date.now() - old });
    // An old event with a finished delivery to one webhook and a pending one to the other: the event stays.
    const shared = await insertDelivery(tenant, hook.id, { createdAt: Date.now() - old, status: "success" });
    await env.DB.prepare(
      `INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, attempt_log, created_at)
       VALUES (?, ?, ?, ?, 'query.created', 'pending', 1, '[]', ?)`,
    )
      .bind(newTimeOrderedId(shared.createdAt + 1), tenant.id, other.id, shared.eventId, shared.createdAt + 1)
      .run();
    // An old event redelivered a day ago: its new delivery (a new id) finished, but the event stays until that send is old too.
    const redelivered = await insertDelivery(tenant, hook.id, { createdAt: Date.now() - old, status: "success" });
    await env.DB.prepare("UPDATE events SET redelivered_at = json_array(?) WHERE id = ?")
      .bind(Date.now() - DAY, redelivered.eventId)
      .run();
    // Within the window: kept.
    const recent = await backdated(tenant, hook.id, 20, "success", RETENTION_MS - DAY);
    const recentEvent = await insertDelivery(tenant, other.id, { createdAt: Date.now() - RETENTION_MS + DAY, status: "failed" });

    const first = await deleteExpired(env, loadConfig(env));
    // The bound: one run never deletes more than its chunks allow, and events wait until the old deliveries are gone.
    expect(first.deliveries).toBe(perRun);
    expect(first.events).toBe(0);
    // What one run could not take is left for the next: here 202 old finished rows.
    const leftOld =
      (await deliveriesOf(hook.id, "success")) - recent.length + (await deliveriesOf(hook.id, "failed")) + (await deliveriesOf(other.id, "cancelled"));
    expect(leftOld).toBeLessThanOrEqual(success.length + failed.length + cancelled.length + 2 - perRun);

    // Runs until caught up (other test files' rows share the database, so no exact count per run).
    let run = first;
    for (let i = 0; i < 10 && (run.deliveries > 0 || run.events > 0); i++) run = await deleteExpired(env, loadConfig(env));

    expect(await deliveriesOf(hook.id, "failed")).toBe(0);
    expect(await deliveriesOf(other.id, "cancelled")).toBe(0);
    expect(await deliveriesOf(hook.id, "success")).toBe(recent.length);
    expect(await deliveriesOf(hook.id, "pending")).toBe(1);
    expect(await deliveriesOf(other.id, "pending")).toBe(1);
    expect(await deliveriesOf(other.id, "failed")).toBe(1);

    for (const row of [success[0], failed[0], cancelled.at(-1)!]) expect(await eventExists(row.event)).toBe(false);
    expect(await eventExists(pending.eventId)).toBe(true);
    expect(await eventExists(shared.eventId)).toBe(true);
    expect(await eventExists(redelivered.eventId)).toBe(true);
    expect(await eventExists(recent[0].event)).toBe(true);
    expect(await eventExists(recentEvent.eventId)).toBe(true);
    const ownOldEvents = await count("SELECT count(*) AS n FROM events WHERE tenant_id = ? AND created_at < ?", tenant.id, Date.now() - RETENTION_MS);
    expect(ownOldEvents).toBe(3); // the pending delivery's, the shared one's and the redelivered one

    // Once the pending delivery finishes, the next run takes it and its event.
    await env.DB.prepare("UPDATE deliveries SET status = 'success' WHERE webhook_id = ? AND id = ?").bind(hook.id, pending.deliveryId).run();
    await deleteExpired(env, loadConfig(env));
    expect(await eventExists(pending.eventId)).toBe(false);
    expect(await eventExists(shared.eventId)).toBe(true);
  });

  it("follows RETENTION_SECONDS, and runs in the cron with the sweep, the fold and the re-seal", async () => {
    const tenant = await createTenant();
    const hook = await createWebhook(tenant, webhookBody());
    const [hourOld] = await backdated(tenant, hook.id, 1, "success", 2 * 60 * 60 * 1000);
    const [minuteOld] = await backdated(tenant, hook.id, 1, "failed", 60 * 1000);
    await env.DB.prepare(
      "INSERT INTO webhook_hourly_stats (webhook_id, hour, attempts, succeeded, failed, histogram) VALUES (?, ?, 1, 1, 0, '{}'), (?, ?, 1, 1, 0, '{}')",
    )
      .bind(hook.id, Date.now() - HOURLY_STATS_RETENTION_MS - DAY, hook.id, Date.now() - DAY)
      .run();

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), { ...env, RETENTION_SECONDS: "3600" }, ctx);
    await waitOnExecutionContext(ctx);

    expect(await eventExists(hourOld.event)).toBe(false);
    expect(await deliveriesOf(hook.id, "success")).toBe(0);
    expect(await eventExists(minuteOld.event)).toBe(true);
    expect(await deliveriesOf(hook.id, "failed")).toBe(1);
    // Hourly statistics are kept 13 months, whatever RETENTION_SECONDS says.
    expect(await count("SELECT count(*) AS n FROM webhook_hourly_stats WHERE webhook_id = ?", hook.id)).toBe(1);
  });

  it("reads each chunk as primary-key ranges per webhook, never a scan of deliveries, events or hourly rows", async () => {
    const cutoff = firstTimeOrderedId(Date.now() - RETENTION_MS);
    for (const statement of [
      expiredDeliveries(cutoff),
      expiredEvents(cutoff, cutoff, Date.now() - RETENTION_MS),
      expiredHourlyStats(Date.now() - HOURLY_STATS_RETENTION_MS),
    ]) {
      const plan = (await database(env.DB).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${statement}`)).map((row) => row.detail);
      expect(
        plan.filter((step) => /^SCAN (d|s|deliveries|events|webhook_hourly_stats)\b/.test(step)),
        plan.join("; "),
      ).toEqual([]);
      expect(
        plan.some((step) => /^SEARCH (d|s) USING PRIMARY KEY \(webhook_id=\? AND (id|hour)<\?\)/.test(step)),
        plan.join("; "),
      ).toBe(true);
    }
  });
});
