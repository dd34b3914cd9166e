import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import { FOLD_AT_ENTRIES, HOUR_MS, hourOf } from "../../src/db/counters";
import type { DeliveryJob, DeliveryRef } from "../../src/delivery/job";
import { sweepLostDeliveries } from "../../src/delivery/sweep";
import { serviceContext } from "../../src/services/context";
import { publishEvent } from "../../src/services/events";
import {
  deliveryLog,
  eventually,
  exampleData,
  finishedDelivery,
  insertDelivery,
  type Published,
  published,
  receiverWebhook,
  recordingQueue,
  storedDelivery,
  storedDeliveryCount,
  webhookView,
  worker,
} from "../helpers/delivery";
import { apiWithEnv, createTenant, receiver, uniqueKey } from "../helpers/harness";

const MINUTE = 60_000;

/** The refused enqueues log one line each; keep them out of the test output and check them. */
let errorLog: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  errorLog = vi.spyOn(console, "error").mockImplementation(() => {});
  return () => errorLog.mockRestore();
});
const enqueueFailureLogged = () =>
  expect(errorLog.mock.calls.map(([line]: unknown[]) => JSON.parse(String(line)))).toContainEqual(
    expect.objectContaining({ message: "enqueue failed; the outbox sweep will retry", error: "Error: queue unavailable" }),
  );

/** A queue that refuses every send, as when Queues is unavailable. */
const refusingQueue = {
  send: () => Promise.reject(new Error("queue unavailable")),
  sendBatch: () => Promise.reject(new Error("queue unavailable")),
} as unknown as Queue<DeliveryJob>;

/** Waits until the event is more than a second old: past a grace of SWEEP_GRACE_SECONDS=1. */
const pastGrace = async (eventId: string) => {
  const publishedAt = parseInt(eventId.replace("-", "").slice(0, 12), 16);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, publishedAt + 1100 - Date.now())));
};

/** Moves a delivery's due time back, as if its job had been lost that long ago. */
const backdate = (deliveryId: string, ms: number) =>
  env.DB.prepare("UPDATE deliveries SET next_attempt_at = next_attempt_at - ? WHERE id = ?").bind(ms, deliveryId).run();

describe("outbox: a refused enqueue", () => {
  it("answers 202 with enqueued=false and keeps the delivery pending; the cron sweep then delivers it", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);

    const res = await apiWithEnv({ DELIVERY_QUEUE: refusingQueue }, "/api/v1/events", {
      method: "POST",
      key: tenant.key,
      json: { event: "query.created", data: exampleData("query.created") },
    });
    expect(res.status).toBe(202);
    const event = (await res.json()) as Published;
    expect(event).toMatchObject({ deliveries_scheduled: 1, enqueued: false, replayed: false });
    enqueueFailureLogged();

    // No row yet: the delivery is written with its first result, and shows pending until then.
    expect(await deliveryLog(tenant, webhook.id)).toMatchObject([{ id: event.event_id, status: "pending", attempts: 0 }]);
    expect(await storedDeliveryCount(tenant.id)).toBe(1);
    expect(await receiver.requests(key)).toEqual([]);

    // The grace (1 s here) passes; the cron writes the delivery's pending row and enqueues it.
    await pastGrace(event.event_id);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), { ...env, SWEEP_GRACE_SECONDS: "1" }, ctx);
    await waitOnExecutionContext(ctx);

    const delivery = await finishedDelivery(tenant, webhook.id);
    expect(delivery).toMatchObject({ id: event.event_id, status: "success", attempts: 1, last_status_code: 200 });
    const requests = await receiver.requests(key);
    expect(requests).toHaveLength(1);
    expect(JSON.parse(requests[0].body)).toMatchObject({ event: "query.created", timestamp: event.created_at, webhook_id: webhook.id });
    expect(requests[0].headers["webhook-id"]).toBe(event.event_id);
  });

  it("publishEvent returns enqueued=false instead of throwing", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const result = await publishEvent(
      serviceContext({ ...env, DELIVERY_QUEUE: refusingQueue }, loadConfig(env), tenant.id),
      "query.created",
      exampleData("query.created"),
    );
    expect(result).toMatchObject({ event: "query.created", deliveries_scheduled: 1, enqueued: false, replayed: false });
    enqueueFailureLogged();
    expect(await deliveryLog(tenant, webhook.id)).toMatchObject([{ id: result.event_id, status: "pending" }]);
  });
});

describe("sweepLostDeliveries: first sends still unwritten past the grace", () => {
  const graceOfOneSecond = loadConfig({ ...env, SWEEP_GRACE_SECONDS: "1" });

  it("writes each one's pending row once, enqueues it once, and moves the cursor past its event", async () => {
    const tenant = await createTenant();
    const [a, b] = [await receiverWebhook(tenant, uniqueKey()), await receiverWebhook(tenant, uniqueKey())];
    const event = await publishEvent(
      serviceContext({ ...env, DELIVERY_QUEUE: refusingQueue }, loadConfig(env), tenant.id),
      "query.created",
      exampleData("query.created"),
    );
    expect(event.deliveries_scheduled).toBe(2);
    const ours = (refs: DeliveryRef[]) => refs.filter((r) => r.tenantId === tenant.id);

    // Within the grace nothing is written or sent: its job may still be on its way.
    const early = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: early.queue }, graceOfOneSecond);
    expect(ours(early.refs())).toEqual([]);
    expect(await storedDelivery(event.event_id)).toBeNull();

    await pastGrace(event.event_id);
    const now = Date.now();
    const queue = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: queue.queue }, graceOfOneSecond, now);
    expect(ours(queue.refs()).sort((x, y) => (x.webhookId < y.webhookId ? -1 : 1))).toEqual(
      [a.id, b.id].sort().map((webhookId) => ({ webhookId, deliveryId: event.event_id, tenantId: tenant.id, attempt: 0 })),
    );
    const rows = await env.DB.prepare("SELECT webhook_id, status, attempts, next_attempt_at FROM deliveries WHERE id = ? ORDER BY webhook_id")
      .bind(event.event_id)
      .all();
    expect(rows.results).toEqual([a.id, b.id].sort().map((webhook_id) => ({ webhook_id, status: "pending", attempts: 0, next_attempt_at: now })));
    const cursor = await env.DB.prepare("SELECT value FROM sweep_cursors WHERE name = 'events'").first<{ value: string }>();
    expect(cursor!.value >= event.event_id).toBe(true);

    // The next run finds nothing more of it; the log shows each delivery once.
    const again = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: again.queue }, graceOfOneSecond);
    expect(ours(again.refs())).toEqual([]);
    expect(await deliveryLog(tenant, a.id)).toMatchObject([{ id: event.event_id, status: "pending" }]);
    expect(await storedDeliveryCount(tenant.id)).toBe(2);
  });

  it("leaves a first send whose outcome was recorded alone", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const event = await published(tenant, "query.created");
    await finishedDelivery(tenant, webhook.id);
    await pastGrace(event.event_id);
    const queue = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: queue.queue }, graceOfOneSecond);
    expect(queue.refs().filter((r) => r.webhookId === webhook.id)).toEqual([]);
    expect(await receiver.requests(key)).toHaveLength(1);
  });
});

describe("sweepLostDeliveries", () => {
  it("re-enqueues only pending deliveries more than the grace period past due, within its window", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const now = Date.now();
    const lost = await insertDelivery(tenant, webhook.id, { nextAttemptAt: now - 3 * MINUTE });
    const inGrace = await insertDelivery(tenant, webhook.id, { nextAttemptAt: now - MINUTE });
    const finished = await Promise.all(
      ["success", "failed", "cancelled"].map((status) => insertDelivery(tenant, webhook.id, { status, nextAttemptAt: now - 3 * MINUTE })),
    );
    const tooOld = await insertDelivery(tenant, webhook.id, { createdAt: now - 10 * 24 * 60 * MINUTE }); // the window is 9 days
    const queue = recordingQueue();

    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: queue.queue }, loadConfig(env), now);

    expect(queue.refs().filter((r) => r.webhookId === webhook.id)).toEqual([{ webhookId: webhook.id, deliveryId: lost.deliveryId, attempt: 0 }]);
    expect((await storedDelivery(lost.deliveryId))!.next_attempt_at).toBe(now);
    expect((await storedDelivery(inGrace.deliveryId))!.next_attempt_at).toBe(now - MINUTE);
    for (const row of [...finished, tooOld]) expect((await storedDelivery(row.deliveryId))!.next_attempt_at).not.toBe(now);
  });

  it("claims a delivery once per grace period, so runs do not pile up jobs; a lost job is found again", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const now = Date.now();
    const lost = await insertDelivery(tenant, webhook.id, { nextAttemptAt: now - 3 * MINUTE });
    const ours = (refs: DeliveryRef[]) => refs.filter((r) => r.webhookId === webhook.id).map((r) => r.deliveryId);

    // The first run claims it, but its enqueue is refused: the job is lost again.
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: refusingQueue }, loadConfig(env), now);
    expect((await storedDelivery(lost.deliveryId))!).toMatchObject({ status: "pending", next_attempt_at: now });
    enqueueFailureLogged();

    // Time passes by moving our row's due time back, never by sweeping at a future `now`,
    // which would claim (and postpone) every other test's pending deliveries.
    await backdate(lost.deliveryId, MINUTE);
    const nextMinute = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: nextMinute.queue }, loadConfig(env), now);
    expect(ours(nextMinute.refs())).toEqual([]);

    await backdate(lost.deliveryId, MINUTE + 1);
    const afterGrace = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: afterGrace.queue }, loadConfig(env), now);
    expect(ours(afterGrace.refs())).toEqual([lost.deliveryId]);
  });

  it("honours SWEEP_GRACE_SECONDS", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const now = Date.now();
    const late = await insertDelivery(tenant, webhook.id, { nextAttemptAt: now - 11_000 });
    await insertDelivery(tenant, webhook.id, { nextAttemptAt: now - 9_000 });
    const queue = recordingQueue();
    await sweepLostDeliveries({ ...env, DELIVERY_QUEUE: queue.queue }, loadConfig({ ...env, SWEEP_GRACE_SECONDS: "10" }), now);
    expect(
      queue
        .refs()
        .filter((r) => r.webhookId === webhook.id)
        .map((r) => r.deliveryId),
    ).toEqual([late.deliveryId]);
  });
});

describe("the cron folds webhook counter deltas", () => {
  it("moves finished counts from webhook_counter_deltas into the webhook row; the API shows the same before and after", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "200,404");
    await published(tenant, "query.created");
    await published(tenant, "query.created");
    await eventually(async () => {
      const log = await deliveryLog(tenant, webhook.id);
      return log.length === 2 && log.every((d) => d.status !== "pending");
    });
    const stored = () => env.DB.prepare("SELECT delivery_count, failure_count FROM webhooks WHERE id = ?").bind(webhook.id).first();
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 2, failure_count: 1 });
    expect(await stored()).toEqual({ delivery_count: 0, failure_count: 0 });

    // Runs within the hour of the oldest delta leave it for later; readers still count it.
    const oldest = await oldestDelta();
    await cronAt(oldest);
    expect(await stored()).toEqual({ delivery_count: 0, failure_count: 0 });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 2, failure_count: 1 });

    // The first run of the next hour folds.
    await cronAt(hourOf(oldest) + HOUR_MS);
    expect(await stored()).toEqual({ delivery_count: 2, failure_count: 1 });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 2, failure_count: 1 });
    expect(await deltaRows()).toBe(0);
  });

  it("folds within the hour once the deltas hold FOLD_AT_ENTRIES webhook entries, which every reader scans", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const now = Date.now();
    const insertDelta = (hourly: unknown[] | null) =>
      env.DB.prepare("INSERT INTO webhook_counter_deltas (counts, hourly, created_at) VALUES (?, ?, ?)")
        .bind(JSON.stringify({ [webhook.id]: [1, 0, now, now] }), hourly && JSON.stringify(hourly), now)
        .run();
    // One entry short: one row of FOLD_AT_ENTRIES - 1 hourly entries.
    await insertDelta(Array.from({ length: FOLD_AT_ENTRIES - 1 }, () => [webhook.id, hourOf(now), 1, 1, 0, {}]));
    await cronAt(now);
    expect(await deltaRows()).toBe(1);

    // A counts-only row is one entry more: due.
    await insertDelta(null);
    await cronAt(now);
    expect(await deltaRows()).toBe(0);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 2, failure_count: 0 });
    const hourRow = await env.DB.prepare("SELECT attempts FROM webhook_hourly_stats WHERE webhook_id = ?").bind(webhook.id).first();
    expect(hourRow).toEqual({ attempts: FOLD_AT_ENTRIES - 1 });
  });
});

async function cronAt(scheduledTime: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}
const deltaRows = async () => (await env.DB.prepare("SELECT count(*) AS n FROM webhook_counter_deltas").first<{ n: number }>())!.n;
const oldestDelta = async () => (await env.DB.prepare("SELECT min(created_at) AS t FROM webhook_counter_deltas").first<{ t: number }>())!.t;
