import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type DeliveryView,
  deliveryDetail,
  eventually,
  finishedDelivery,
  finishedHurrying,
  insertDelivery,
  published,
  receiverWebhook,
  storedDelivery,
  webhookView,
} from "../helpers/delivery";
import { api, createTenant, createWebhook, expectError, GUIDE_TIMESTAMP, receiver, type Tenant, uniqueKey } from "../helpers/harness";

const UNKNOWN_ID = "00000000-0000-7000-8000-000000000000";

const retry = (tenant: Tenant, webhookId: string, deliveryId: string) =>
  api(`/api/v1/webhooks/${webhookId}/deliveries/${deliveryId}/retry`, { method: "POST", key: tenant.key });

async function retried(tenant: Tenant, webhookId: string, deliveryId: string): Promise<DeliveryView> {
  const res = await retry(tenant, webhookId, deliveryId);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return JSON.parse(text) as DeliveryView;
}

/** The delivery once it has left `pending` again after a retry. */
const finishedAgain = (tenant: Tenant, webhookId: string, deliveryId: string) =>
  eventually(async () => {
    const detail = await deliveryDetail(tenant, webhookId, deliveryId);
    return detail.status !== "pending" ? detail : null;
  });

const brief = (log: { attempt: number; status_code: number | null }[]) => log.map(({ attempt, status_code }) => ({ attempt, status_code }));

describe("POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", () => {
  it("a failed delivery (404) is attempted again with the same webhook-id, succeeds, and the counters follow the log", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "404,200");
    await published(tenant, "query.created");
    const failed = await finishedDelivery(tenant, webhook.id);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, last_status_code: 404 });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 1 });

    const view = await retried(tenant, webhook.id, failed.id);
    expect(view).toMatchObject({
      id: failed.id,
      webhook_id: webhook.id,
      event_id: failed.event_id,
      status: "pending",
      attempts: 1,
      last_status_code: 404,
      finished_at: null,
      created_at: failed.created_at,
    });
    expect(view.next_retry_at).toMatch(GUIDE_TIMESTAMP);
    expect(view).not.toHaveProperty("attempt_log");

    const done = await finishedAgain(tenant, webhook.id, failed.id);
    expect(done).toMatchObject({ status: "success", attempts: 2, last_status_code: 200, last_error: null, next_retry_at: null });
    expect(done.finished_at).toMatch(GUIDE_TIMESTAMP);
    expect(brief(done.attempt_log)).toEqual([
      { attempt: 1, status_code: 404 },
      { attempt: 2, status_code: 200 },
    ]);
    // The outcome and its count are written in one batch: no wait.
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });

    const requests = await receiver.requests(key);
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual([failed.id, failed.id]);
    expect(requests[1].body).toBe(requests[0].body);
    expect((await storedDelivery(failed.id))!.cycle_start).toBe(1);
  });

  it("attempt numbers keep counting across cycles: 500 ×3 fails, retry → 4, 5, 6, then a retry that succeeds is 7", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,500,500,500,500,500,200");
    await published(tenant, "query.created");
    await finishedHurrying(webhook.id);
    const first = await finishedDelivery(tenant, webhook.id);
    expect(first).toMatchObject({ status: "failed", attempts: 3 });

    await retried(tenant, webhook.id, first.id);
    await finishedHurrying(webhook.id);
    const second = await finishedAgain(tenant, webhook.id, first.id);
    // The default schedule starts again: three attempts in the new cycle.
    expect(second).toMatchObject({ status: "failed", attempts: 6 });

    await retried(tenant, webhook.id, first.id);
    const third = await finishedAgain(tenant, webhook.id, first.id);
    expect(third).toMatchObject({ status: "success", attempts: 7 });
    expect(third.attempt_log.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(third.attempt_log.map((a) => a.status_code)).toEqual([500, 500, 500, 500, 500, 500, 200]);
    expect(new Set((await receiver.requests(key)).map((r) => r.headers["webhook-id"]))).toEqual(new Set([first.id]));
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
  });

  it("a cancelled delivery is attempted again; it was never counted, so no correction", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { status: "cancelled" });

    expect(await retried(tenant, webhook.id, deliveryId)).toMatchObject({ id: deliveryId, status: "pending", attempts: 0 });
    const done = await finishedAgain(tenant, webhook.id, deliveryId);
    expect(done).toMatchObject({ status: "success", attempts: 1 });
    expect((await receiver.requests(key)).map((r) => r.headers["webhook-id"])).toEqual([deliveryId]);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
  });

  it("writes the counter correction only for a failed delivery: { webhookId: [-1, -1] }", async () => {
    const tenant = await createTenant();
    // A receiver that never answers 2xx keeps the consumer's own counting out of this check.
    const webhook = await receiverWebhook(tenant, uniqueKey(), "404");
    const failed = await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 3 });
    const cancelled = await insertDelivery(tenant, webhook.id, { status: "cancelled" });
    const corrections = () =>
      env.DB.prepare(
        "SELECT counts FROM webhook_counter_deltas WHERE json_extract(counts, '$.\"' || ? || '\"') IS NOT NULL AND json_extract(counts, '$.\"' || ? || '\"[0]') < 0",
      )
        .bind(webhook.id, webhook.id)
        .all<{ counts: string }>();

    await retried(tenant, webhook.id, cancelled.deliveryId);
    expect((await corrections()).results).toEqual([]);
    await retried(tenant, webhook.id, failed.deliveryId);
    expect((await corrections()).results.map((r) => JSON.parse(r.counts))).toEqual([{ [webhook.id]: [-1, -1] }]);
    // The new cycle starts after the 3 attempts made (the consumer may already be on it).
    expect(await storedDelivery(failed.deliveryId)).toMatchObject({ cycle_start: 3 });
  });
});

describe("POST …/retry refuses", () => {
  it.each([
    ["pending", "pending"],
    ["succeeded", "success"],
  ])("a %s delivery: 409 conflict, the row unchanged", async (_case, status) => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { status, attempts: 1 });
    const before = await storedDelivery(deliveryId);

    const error = await expectError(await retry(tenant, webhook.id, deliveryId), 409, "conflict");
    expect(error.message).toContain(`this one is ${status}`);
    expect(await storedDelivery(deliveryId)).toEqual(before);
  });

  it("a delivery of an inactive webhook: 409 conflict (it would only be cancelled again)", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), undefined, { is_active: false });
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 1 });
    const before = await storedDelivery(deliveryId);

    const error = await expectError(await retry(tenant, webhook.id, deliveryId), 409, "conflict");
    expect(error.message).toMatch(/inactive/);
    expect(await storedDelivery(deliveryId)).toEqual(before);
  });

  it.each([
    ["an unknown delivery id", UNKNOWN_ID],
    ["a non-UUID delivery id", "not-a-uuid"],
  ])("%s: 404 not_found", async (_case, deliveryId) => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    await expectError(await retry(tenant, webhook.id, deliveryId), 404, "not_found");
  });

  it("an unknown or deleted webhook: 404 not_found", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 1 });
    await expectError(await retry(tenant, UNKNOWN_ID, deliveryId), 404, "not_found");

    await api(`/api/v1/webhooks/${webhook.id}`, { method: "DELETE", key: tenant.key });
    await expectError(await retry(tenant, webhook.id, deliveryId), 404, "not_found");
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "failed" });
  });

  it("without an API key: 401", async () => {
    const res = await api(`/api/v1/webhooks/${UNKNOWN_ID}/deliveries/${UNKNOWN_ID}/retry`, { method: "POST" });
    await expectError(res, 401, "unauthorized");
  });
});

describe("POST …/retry: tenant isolation", () => {
  it("another tenant's webhook, or its delivery under one's own webhook: 404, nothing changed", async () => {
    const [owner, other] = [await createTenant(), await createTenant()];
    const ownersWebhook = await receiverWebhook(owner, uniqueKey());
    const othersWebhook = await receiverWebhook(other, uniqueKey());
    const { deliveryId } = await insertDelivery(owner, ownersWebhook.id, { status: "failed", attempts: 1 });
    const before = await storedDelivery(deliveryId);

    await expectError(await retry(other, ownersWebhook.id, deliveryId), 404, "not_found");
    await expectError(await retry(other, othersWebhook.id, deliveryId), 404, "not_found");
    expect(await storedDelivery(deliveryId)).toEqual(before);
  });

  it("a delivery of another webhook of the same tenant, under the wrong webhook: 404", async () => {
    const tenant = await createTenant();
    const [a, b] = [await receiverWebhook(tenant, uniqueKey()), await receiverWebhook(tenant, uniqueKey())];
    const { deliveryId } = await insertDelivery(tenant, a.id, { status: "failed", attempts: 1 });
    await expectError(await retry(tenant, b.id, deliveryId), 404, "not_found");
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "failed" });
  });
});
