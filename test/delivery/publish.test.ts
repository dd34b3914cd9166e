import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { sendJobs } from "../../src/delivery/enqueue";
import type { DeliveryRef } from "../../src/delivery/job";
import { meterD1, newUsage } from "../../src/lib/usage";
import { serviceContext } from "../../src/services/context";
import { publishEvent } from "../../src/services/events";
import {
  exampleData,
  finishedDelivery,
  manyWebhooks,
  publish,
  published,
  receivedAtLeast,
  receiverWebhook,
  recordingQueue,
  storedDeliveryCount,
  storedEventCount,
} from "../helpers/delivery";
import {
  api,
  createTenant,
  createWebhook,
  expectError,
  GUIDE_TIMESTAMP,
  rawJson,
  receiver,
  type Tenant,
  UUID,
  uniqueKey,
  webhookBody,
} from "../helpers/harness";

/** A queue that keeps what it is sent instead of delivering it. */

describe("POST /api/v1/events", () => {
  it("stores the event and one pending delivery per subscribed active webhook, and answers 202", async () => {
    const tenant = await createTenant();
    const url = receiver.url(uniqueKey());
    const subscribed = await createWebhook(tenant, webhookBody({ url, events: ["query.created", "query.escalated"] }));
    const alsoSubscribed = await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.resolved"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.created"], is_active: false }));
    const deleted = await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }));
    expect((await api(`/api/v1/webhooks/${deleted.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);

    const res = await publish(tenant, "query.created", exampleData("query.created"));

    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["created_at", "deliveries_scheduled", "enqueued", "event", "event_id", "replayed"]);
    expect(body).toMatchObject({ event: "query.created", deliveries_scheduled: 2, enqueued: true, replayed: false });
    expect(body.event_id).toMatch(UUID);
    expect(body.created_at).toMatch(GUIDE_TIMESTAMP);

    const event = await env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(body.event_id).first<Record<string, unknown>>();
    expect(event).toMatchObject({
      tenant_id: tenant.id,
      type: "query.created",
      data: JSON.stringify(exampleData("query.created")),
      idempotency_key: null,
      deliveries_scheduled: 2,
    });
    // The event names the webhooks it goes to; each delivery (id: the event's) is written with its first result.
    expect(JSON.parse(event!.webhook_ids as string).sort()).toEqual([subscribed.id, alsoSubscribed.id].sort());
    for (const webhook of [subscribed, alsoSubscribed]) {
      const delivery = await finishedDelivery(tenant, webhook.id);
      expect(delivery).toMatchObject({ id: body.event_id, event_id: body.event_id, webhook_id: webhook.id, event: "query.created", attempts: 1 });
    }
  });

  it("with no subscriber: the event is stored with 0 deliveries", async () => {
    const tenant = await createTenant();
    await createWebhook(tenant, webhookBody({ events: ["query.resolved"] }));
    const body = await published(tenant, "feedback.received");
    expect(body).toMatchObject({ event: "feedback.received", deliveries_scheduled: 0, enqueued: true, replayed: false });
    expect(await storedEventCount(tenant.id)).toBe(1);
    expect(await storedDeliveryCount(tenant.id)).toBe(0);
  });

  it("accepts data nested 32 levels deep", async () => {
    const tenant = await createTenant();
    const deep = JSON.parse(`${"[".repeat(31)}${"]".repeat(31)}`);
    expect((await published(tenant, "query.created", { ...exampleData("query.created"), deep })).deliveries_scheduled).toBe(0);
  });

  it("accepts every event type of the guide with its example data", async () => {
    const tenant = await createTenant();
    for (const type of ["query.created", "query.resolved", "query.escalated", "feedback.received"] as const) {
      expect((await published(tenant, type)).event).toBe(type);
    }
    const withoutText = { ...exampleData("feedback.received"), feedback_text: null };
    expect((await published(tenant, "feedback.received", withoutText)).event).toBe("feedback.received");
    expect(await storedEventCount(tenant.id)).toBe(5);
  });
});

describe("POST /api/v1/events: refused bodies store nothing", () => {
  const created = exampleData("query.created");
  const refusals: Array<[string, (tenant: Tenant) => Promise<Response>, number, string, string?]> = [
    ["unknown event type", (t) => publish(t, "query.deleted", created), 422, "validation_failed", "event"],
    ["the test event type (not publishable)", (t) => publish(t, "webhook.test", { message: "hi", test: true }), 422, "validation_failed", "event"],
    ["missing data field", (t) => publish(t, "query.created", { ...created, query_id: undefined }), 422, "validation_failed", "data.query_id"],
    ["wrong type: priority as a string", (t) => publish(t, "query.created", { ...created, priority: "7" }), 422, "validation_failed", "data.priority"],
    ["out of range: priority 11", (t) => publish(t, "query.created", { ...created, priority: 11 }), 422, "validation_failed", "data.priority"],
    [
      "wrong type: rating 4.5",
      (t) => publish(t, "feedback.received", { ...exampleData("feedback.received"), rating: 4.5 }),
      422,
      "validation_failed",
      "data.rating",
    ],
    ["data is an array", (t) => publish(t, "query.created", [created]), 422, "validation_failed", "data"],
    ["data is missing", (t) => api("/api/v1/events", { method: "POST", key: t.key, json: { event: "query.created" } }), 422, "validation_failed", "data"],
    [
      "data nested more than 32 levels deep",
      (t) => publish(t, "query.created", { ...created, deep: JSON.parse(`${"[".repeat(32)}${"]".repeat(32)}`) }),
      422,
      "validation_failed",
      "data",
    ],
    ["malformed JSON", (t) => api("/api/v1/events", { method: "POST", key: t.key, ...rawJson('{"event": "query.created", data: {}') }), 400, "invalid_json"],
    [
      "not application/json",
      (t) =>
        api("/api/v1/events", {
          method: "POST",
          key: t.key,
          body: JSON.stringify({ event: "query.created", data: created }),
          headers: { "Content-Type": "text/plain" },
        }),
      415,
      "unsupported_media_type",
    ],
    [
      "Idempotency-Key over 255 characters",
      (t) => publish(t, "query.created", created, { "Idempotency-Key": "k".repeat(256) }),
      422,
      "validation_failed",
      "idempotency-key",
    ],
    ["missing API key", () => api("/api/v1/events", { method: "POST", json: { event: "query.created", data: created } }), 401, "unauthorized"],
    [
      "unknown API key",
      () => api("/api/v1/events", { method: "POST", key: "hrk_0000000000000000000000000000000000000000000", json: { event: "query.created", data: created } }),
      401,
      "unauthorized",
    ],
  ];

  for (const [name, request, status, code, field] of refusals) {
    it(`${name}: ${status} ${code}`, async () => {
      const tenant = await createTenant();
      await createWebhook(tenant, webhookBody({ url: receiver.url(uniqueKey()), events: ["query.created", "feedback.received"] }));
      const error = await expectError(await request(tenant), status, code);
      if (field) expect(error.fields?.map((f) => f.field)).toContain(field);
      expect(await storedEventCount(tenant.id)).toBe(0);
      expect(await storedDeliveryCount(tenant.id)).toBe(0);
    });
  }
});

describe("Idempotency-Key", () => {
  it("a replay (the same request, keys in any order) answers the first result and creates no second event, delivery or request", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const headers = { "Idempotency-Key": `publish-${key}` };

    const first = await published(tenant, "query.created", exampleData("query.created"), headers);
    await finishedDelivery(tenant, webhook.id);
    const reordered = Object.fromEntries(Object.entries(exampleData("query.created")).reverse());
    const replay = await published(tenant, "query.created", reordered, headers);

    expect(first).toMatchObject({ deliveries_scheduled: 1, enqueued: true, replayed: false });
    expect(replay).toEqual({ ...first, replayed: true });
    expect(await storedEventCount(tenant.id)).toBe(1);
    expect(await storedDeliveryCount(tenant.id)).toBe(1);
    expect(await receiver.requests(key)).toHaveLength(1);
  });

  it("concurrent publishes with one key store one event; both answer its id", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    await receiverWebhook(tenant, key);
    const headers = { "Idempotency-Key": `race-${key}` };

    const [a, b] = await Promise.all([published(tenant, "query.created", undefined, headers), published(tenant, "query.created", undefined, headers)]);

    expect(a.event_id).toBe(b.event_id);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(await storedEventCount(tenant.id)).toBe(1);
    expect(await storedDeliveryCount(tenant.id)).toBe(1);
    expect(await receivedAtLeast(key, 1)).toHaveLength(1);
  });

  it("is scoped to the tenant, and different keys make different events", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const headers = { "Idempotency-Key": "shared-key" };
    const fromA = await published(a, "query.created", undefined, headers);
    const fromB = await published(b, "query.created", undefined, headers);
    const other = await published(a, "query.created", undefined, { "Idempotency-Key": "another-key" });
    expect(fromB.event_id).not.toBe(fromA.event_id);
    expect(other.event_id).not.toBe(fromA.event_id);
    expect([fromA.replayed, fromB.replayed, other.replayed]).toEqual([false, false, false]);
    expect(await storedEventCount(a.id)).toBe(2);
    expect(await storedEventCount(b.id)).toBe(1);
  });
});

describe("publishEvent cost", () => {
  it("takes the same number of D1 round trips (one batch) for 1 and for 150 endpoints", async () => {
    const url = receiver.url(uniqueKey());
    const [one, many] = [await createTenant(), await createTenant()];
    await manyWebhooks(one, 1, url);
    await manyWebhooks(many, 150, url);

    const roundTrips = async (tenant: Tenant, idempotencyKey?: string) => {
      const usage = newUsage("test");
      const db = meterD1(env.DB, usage);
      const queue = recordingQueue();
      const result = await publishEvent(
        serviceContext({ ...env, DB: db, DELIVERY_QUEUE: queue.queue }, loadConfig(env), tenant.id),
        "query.created",
        exampleData("query.created"),
        {
          idempotencyKey,
        },
      );
      return { result, roundTrips: usage.d1_round_trips, queue };
    };

    const single = await roundTrips(one);
    const fanOut = await roundTrips(many);
    expect(single.result.deliveries_scheduled).toBe(1);
    expect(fanOut.result.deliveries_scheduled).toBe(150);
    expect([single.roundTrips, fanOut.roundTrips]).toEqual([1, 1]);
    // 150 deliveries ride in 8 jobs of at most 20, sent in one sendBatch call.
    expect(fanOut.queue.calls.map((messages) => messages.map((m) => m.body.deliveries.length))).toEqual([[20, 20, 20, 20, 20, 20, 20, 10]]);
    // Each webhook's first send, all with the event's id (its row is written with its first result).
    expect(new Set(fanOut.queue.refs().map((r) => r.webhookId)).size).toBe(150);
    expect(new Set(fanOut.queue.refs().map((r) => r.deliveryId))).toEqual(new Set([fanOut.result.event_id]));

    // An Idempotency-Key adds one lookup, whatever the fan-out.
    expect([(await roundTrips(one, "k-1")).roundTrips, (await roundTrips(many, "k-1")).roundTrips]).toEqual([2, 2]);
  });

  it("sendJobs packs 20 deliveries per job and at most 100 jobs per sendBatch call", async () => {
    const queue = recordingQueue();
    const refs: DeliveryRef[] = Array.from({ length: 2_001 }, (_, i) => ({ webhookId: `w${i}`, deliveryId: `d${i}` }));
    await sendJobs({ ...env, DELIVERY_QUEUE: queue.queue }, refs);
    expect(queue.calls.map((messages) => messages.length)).toEqual([100, 1]);
    expect(queue.calls[1][0].body.deliveries).toEqual([{ webhookId: "w2000", deliveryId: "d2000" }]);
    expect(queue.refs()).toEqual(refs);
  });
});
