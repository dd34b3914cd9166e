import { describe, expect, it } from "vitest";
import {
  consume,
  deliveryLog,
  eventually,
  finishedDelivery,
  finishedHurrying,
  job,
  published,
  receivedAtLeast,
  receiverWebhook,
  staysAt,
  storedDelivery,
  webhookView,
} from "../helpers/delivery";
import { api, createTenant, receiver, storedWebhook, uniqueKey } from "../helpers/harness";

const CANCELLED = { status: "cancelled", next_attempt_at: null, last_error: "webhook deleted or deactivated" };

describe("deleting or deactivating a webhook cancels its pending deliveries", () => {
  it("DELETE between attempts: cancelled, the queued retry sends nothing", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500");
    await published(tenant, "query.created");
    const [waiting] = await eventually(async () => {
      const log = await deliveryLog(tenant, webhook.id);
      return log[0]?.attempts === 1 ? log : null;
    });
    expect(waiting.status).toBe("pending");
    const retryDueAt = (await storedDelivery(waiting.id))!.next_attempt_at as number;

    expect((await api(`/api/v1/webhooks/${webhook.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);

    const row = (await storedDelivery(waiting.id))!;
    expect(row).toMatchObject({ ...CANCELLED, attempts: 1 });
    expect(row.finished_at).toEqual(expect.any(Number));
    expect(JSON.parse(row.attempt_log as string)).toHaveLength(1);
    // The job the queue still holds finds the row cancelled.
    const result = await consume([job(webhook.id, waiting.id)]);
    expect(result.explicitAcks).toEqual(["msg-1"]);
    await staysAt(key, 1, retryDueAt + 1_500);
    expect(await storedDelivery(waiting.id)).toEqual(row);
    // Cancelled deliveries are not finished ones: the counters stay as they were.
    expect(await storedWebhook(webhook.id)).toMatchObject({ delivery_count: 0, failure_count: 0 });
  });

  it("deactivation during an attempt: cancelled; the attempt's result is not written; reactivation does not revive it", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "hang,200");
    await published(tenant, "query.created");
    const [inFlight] = await receivedAtLeast(key, 1);
    const deliveryId = inFlight.headers["webhook-id"];

    const res = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { is_active: false } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ is_active: false });
    const [cancelled] = await deliveryLog(tenant, webhook.id);
    expect(cancelled).toMatchObject({ id: deliveryId, status: "cancelled", attempts: 0, next_retry_at: null, last_error: "webhook deleted or deactivated" });

    // The hanging attempt now gets its 200: the consumer must not record that success over the cancellation.
    expect(await receiver.release(key)).toBe(1);
    await staysAt(key, 1, Date.now() + 1_500);
    expect(await deliveryLog(tenant, webhook.id)).toEqual([cancelled]);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 0, failure_count: 0 });

    const reactivated = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { is_active: true } });
    expect(reactivated.status).toBe(200);
    expect((await deliveryLog(tenant, webhook.id))[0]).toEqual(cancelled);

    // New events reach it again; the cancelled delivery is not among them.
    const next = await published(tenant, "query.created");
    const log = await eventually(async () => {
      const entries = await deliveryLog(tenant, webhook.id);
      return entries.length === 2 && entries[0].status !== "pending" ? entries : null;
    });
    expect(log.map((d) => [d.event_id === next.event_id, d.status])).toEqual([
      [true, "success"],
      [false, "cancelled"],
    ]);
    const requests = await receiver.requests(key);
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual([deliveryId, log[0].id]);
  });

  it("updating other fields does not cancel anything", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,200");
    await published(tenant, "query.created");
    await receivedAtLeast(key, 1);
    const res = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { description: "still here", is_active: true } });
    expect(res.status).toBe(200);
    await finishedHurrying(webhook.id);
    expect(await finishedDelivery(tenant, webhook.id)).toMatchObject({ status: "success", attempts: 2 });
  });
});
