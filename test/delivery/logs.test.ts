import { describe, expect, it } from "vitest";
import {
  consume,
  type DeliveryView,
  deliveryDetail,
  deliveryLog,
  eventually,
  finishedDelivery,
  insertDelivery,
  job,
  type Published,
  published,
  receiverWebhook,
  webhookView,
} from "../helpers/delivery";
import { api, createTenant, expectError, GUIDE_TIMESTAMP, receiver, type Tenant, UUID, uniqueKey } from "../helpers/harness";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const LIST_FIELDS = [
  "attempts",
  "created_at",
  "event",
  "event_id",
  "finished_at",
  "id",
  "last_error",
  "last_response_excerpt",
  "last_response_time_ms",
  "last_status_code",
  "next_retry_at",
  "status",
  "webhook_id",
];

/** Publishes and waits until the webhook's log holds `count` finished deliveries. */
async function publishAndSettle(tenant: Tenant, webhookId: string, event: "query.created" | "query.escalated", count: number) {
  const result = await published(tenant, event);
  await eventually(async () => {
    const log = await deliveryLog(tenant, webhookId);
    return log.length === count && log.every((d) => d.status !== "pending");
  });
  return result;
}

describe("GET /api/v1/webhooks/{id}/deliveries", () => {
  it("lists deliveries newest first, filters by status and event, pages with skip/limit; counters equal the log", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200,404,200", { events: ["query.created", "query.escalated"] });
    const events: Published[] = [];
    events.push(await publishAndSettle(tenant, webhook.id, "query.created", 1));
    events.push(await publishAndSettle(tenant, webhook.id, "query.escalated", 2));
    events.push(await publishAndSettle(tenant, webhook.id, "query.created", 3));

    const log = await deliveryLog(tenant, webhook.id);
    expect(log.map((d) => Object.keys(d).sort())).toEqual([LIST_FIELDS, LIST_FIELDS, LIST_FIELDS]);
    expect(
      log.map(({ event_id, event, status, attempts, last_status_code, last_error }) => ({ event_id, event, status, attempts, last_status_code, last_error })),
    ).toEqual([
      { event_id: events[2].event_id, event: "query.created", status: "success", attempts: 1, last_status_code: 200, last_error: null },
      { event_id: events[1].event_id, event: "query.escalated", status: "failed", attempts: 1, last_status_code: 404, last_error: "HTTP 404" },
      { event_id: events[0].event_id, event: "query.created", status: "success", attempts: 1, last_status_code: 200, last_error: null },
    ]);
    for (const d of log) {
      expect(d.id).toMatch(UUID);
      expect(d.webhook_id).toBe(webhook.id);
      expect(d.created_at).toMatch(GUIDE_TIMESTAMP);
      expect(d.finished_at).toMatch(GUIDE_TIMESTAMP);
      expect(d.next_retry_at).toBeNull();
      expect(d.last_response_excerpt).toBe(JSON.stringify({ status: "received", key }));
      expect(d.last_response_time_ms).toEqual(expect.any(Number));
    }

    const ids = (entries: DeliveryView[]) => entries.map((d) => d.id);
    expect(ids(await deliveryLog(tenant, webhook.id, "?status=failed"))).toEqual([log[1].id]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?status=success"))).toEqual([log[0].id, log[2].id]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?status=pending"))).toEqual([]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?event=query.escalated"))).toEqual([log[1].id]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?event=query.created&status=success"))).toEqual([log[0].id, log[2].id]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?event=query.resolved"))).toEqual([]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?limit=1"))).toEqual([log[0].id]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?skip=1&limit=1"))).toEqual([log[1].id]);
    expect(ids(await deliveryLog(tenant, webhook.id, "?skip=3"))).toEqual([]);

    const counters = await webhookView(tenant, webhook.id);
    expect(counters.delivery_count).toBe(log.filter((d) => d.status === "success" || d.status === "failed").length);
    expect(counters.failure_count).toBe(log.filter((d) => d.status === "failed").length);
    expect([counters.delivery_count, counters.failure_count]).toEqual([3, 1]);
    expect(await receiver.requests(key)).toHaveLength(3);
  });

  it("counters equal the log when one batch finishes several deliveries of one webhook", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    // Attempted concurrently, so which delivery gets which answer varies; the answers do not.
    const webhook = await receiverWebhook(tenant, key, "200,404,200,500");
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await insertDelivery(tenant, webhook.id)).deliveryId);

    await consume([job(webhook.id, ...ids)]);

    const log = await deliveryLog(tenant, webhook.id);
    expect(log.map((d) => `${d.status}:${d.last_status_code}`).sort()).toEqual(["failed:404", "pending:500", "success:200", "success:200"]);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 3, failure_count: 1 });
    expect(await receiver.requests(key)).toHaveLength(4);
  });

  it("shows a delivery waiting for its retry as pending with next_retry_at", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "503");
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    await consume([job(webhook.id, deliveryId)]);

    const [delivery] = await deliveryLog(tenant, webhook.id);
    expect(delivery).toMatchObject({ id: deliveryId, status: "pending", attempts: 1, last_status_code: 503, last_error: "HTTP 503", finished_at: null });
    expect(delivery.next_retry_at).toMatch(GUIDE_TIMESTAMP);
    expect(Date.parse(delivery.next_retry_at!)).toBeGreaterThan(Date.parse(delivery.created_at));
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 0, failure_count: 0 });
  });

  it("refuses bad filters and pages with 422", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    for (const query of ["?status=done", "?limit=0", "?limit=101", "?skip=-1", "?limit=ten", `?event=${"e".repeat(101)}`]) {
      await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries${query}`, { key: tenant.key }), 422, "validation_failed");
    }
  });

  it("answers 404 for an unknown, malformed or deleted webhook, and 401 without a key", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    expect((await api(`/api/v1/webhooks/${webhook.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    for (const id of [UNKNOWN_ID, "not-a-uuid", webhook.id]) {
      await expectError(await api(`/api/v1/webhooks/${id}/deliveries`, { key: tenant.key }), 404, "not_found");
    }
    await expectError(await api(`/api/v1/webhooks/${UNKNOWN_ID}/deliveries`), 401, "unauthorized");
  });
});

describe("GET /api/v1/webhooks/{id}/deliveries/{delivery_id}", () => {
  it("shows one delivery with every attempt", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,200");
    await published(tenant, "query.created");
    const [finished] = await eventually(async () => {
      const log = await deliveryLog(tenant, webhook.id);
      return log[0]?.status === "success" ? log : null;
    });

    const detail = await deliveryDetail(tenant, webhook.id, finished.id);

    expect(Object.keys(detail).sort()).toEqual([...LIST_FIELDS, "attempt_log"].sort());
    const { attempt_log, ...view } = detail;
    expect(view).toEqual(finished);
    const excerpt = JSON.stringify({ status: "received", key });
    expect(attempt_log).toEqual([
      {
        attempt: 1,
        status_code: 500,
        error: "HTTP 500",
        response_time_ms: expect.any(Number),
        response_excerpt: excerpt,
        attempted_at: expect.stringMatching(GUIDE_TIMESTAMP),
      },
      {
        attempt: 2,
        status_code: 200,
        error: null,
        response_time_ms: expect.any(Number),
        response_excerpt: excerpt,
        attempted_at: expect.stringMatching(GUIDE_TIMESTAMP),
      },
    ]);
    expect(Date.parse(attempt_log[1].attempted_at)).toBeGreaterThan(Date.parse(attempt_log[0].attempted_at));
    expect(detail.last_response_time_ms).toBe(attempt_log[1].response_time_ms);
  });

  it.each(["big", "big-sized"])("keeps the first 1,024 characters of a large response (%s)", async (respond) => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), respond);
    await published(tenant, "query.created");
    const delivery = await finishedDelivery(tenant, webhook.id);
    expect(delivery).toMatchObject({ status: "success", last_status_code: 200, last_response_excerpt: "é".repeat(1024) });
  });

  it("answers 404 for an unknown or malformed delivery id, and for another webhook's delivery", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const other = await receiverWebhook(tenant, uniqueKey());
    const { deliveryId } = await insertDelivery(tenant, other.id, { status: "success" });
    for (const id of [UNKNOWN_ID, "not-a-uuid", deliveryId]) {
      await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries/${id}`, { key: tenant.key }), 404, "not_found");
    }
    expect((await deliveryDetail(tenant, other.id, deliveryId)).id).toBe(deliveryId);
  });
});
