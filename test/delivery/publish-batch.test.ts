import { env } from "cloudflare:workers";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { meterD1, newUsage } from "../../src/lib/usage";
import { serviceContext } from "../../src/services/context";
import { publishEventBatch } from "../../src/services/event-batch";
import {
  exampleData,
  type Published,
  receivedAtLeast,
  receiverWebhook,
  recordingQueue,
  staysAt,
  storedDeliveryCount,
  storedEventCount,
} from "../helpers/delivery";
import { api, apiWithEnv, createTenant, expectError, receiver, type Tenant, uniqueKey } from "../helpers/harness";

const batch = (tenant: Tenant, events: unknown[]) => api("/api/v1/events/batch", { method: "POST", key: tenant.key, json: { events } });

async function publishedBatch(tenant: Tenant, events: unknown[]): Promise<Published[]> {
  const res = await batch(tenant, events);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return (JSON.parse(text) as { events: Published[] }).events;
}

const created = (queryId: string) => ({ event: "query.created", data: { ...exampleData("query.created"), query_id: queryId } });

describe("POST /api/v1/events/batch", () => {
  it("stores every event with its deliveries, answers one result per event in order, and delivers each to the receiver, signed", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const first = await receiverWebhook(tenant, key);
    const second = await receiverWebhook(tenant, key, undefined, { events: ["query.created", "query.resolved"] });
    const events = [created("q-1"), { event: "query.resolved", data: exampleData("query.resolved") }, created("q-2")];

    const results = await publishedBatch(tenant, events);

    expect(results.map((r) => [r.event, r.deliveries_scheduled, r.enqueued, r.replayed])).toEqual([
      ["query.created", 2, true, false],
      ["query.resolved", 1, true, false],
      ["query.created", 2, true, false],
    ]);
    // Time-ordered ids in the order of the request.
    expect(results.map((r) => r.event_id)).toEqual(results.map((r) => r.event_id).sort());
    const requests = await receivedAtLeast(key, 5);
    await staysAt(key, 5, 300);
    const bodies = requests.map((r) => JSON.parse(r.body) as { event: string; webhook_id: string; data: { query_id?: string } });
    expect(bodies.map((b) => `${b.event}/${b.data.query_id ?? "-"}/${b.webhook_id}`).sort()).toEqual(
      [
        `query.created/q-1/${first.id}`,
        `query.created/q-1/${second.id}`,
        `query.created/q-2/${first.id}`,
        `query.created/q-2/${second.id}`,
        `query.resolved/${exampleData("query.resolved").query_id}/${second.id}`,
      ].sort(),
    );
    for (const request of requests) {
      const secret = request.headers["x-webhook-id"] === first.id ? first.secret_key : second.secret_key;
      expect(request.headers["x-webhook-signature"]).toBe(createHmac("sha256", secret).update(request.body).digest("hex"));
      const standard = {
        "webhook-id": request.headers["webhook-id"],
        "webhook-timestamp": request.headers["webhook-timestamp"],
        "webhook-signature": request.headers["webhook-signature"],
      };
      expect(() => new Webhook(secret, { format: "raw" }).verify(request.body, standard)).not.toThrow();
    }
    expect(await storedEventCount(tenant.id)).toBe(3);
    expect(await storedDeliveryCount(tenant.id)).toBe(5);
  });

  it("stores 100 events and their deliveries in one D1 round trip", async () => {
    const tenant = await createTenant();
    await receiverWebhook(tenant, uniqueKey());
    const usage = newUsage("fetch");
    const queue = recordingQueue();
    const items = Array.from({ length: 100 }, (_, i) => ({ type: "query.created", data: created(`q-${i}`).data }));

    const results = await publishEventBatch(
      serviceContext({ ...env, DB: meterD1(env.DB, usage), DELIVERY_QUEUE: queue.queue }, loadConfig(env), tenant.id),
      items,
    );

    expect(results).toHaveLength(100);
    expect(usage.d1_round_trips).toBe(1);
    expect(queue.refs()).toHaveLength(100);
    expect(await storedDeliveryCount(tenant.id)).toBe(100);
  });

  it("idempotency keys per event: the same request replays that event, the others are new", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    await receiverWebhook(tenant, key);
    const [kept] = await publishedBatch(tenant, [{ ...created("q-1"), idempotency_key: "k-1" }]);

    const results = await publishedBatch(tenant, [
      created("q-0"),
      { ...created("q-1"), idempotency_key: "k-1" },
      { ...created("q-2"), idempotency_key: "k-2" },
    ]);

    expect(results[1]).toEqual({ ...kept, replayed: true });
    expect(results.map((r) => r.replayed)).toEqual([false, true, false]);
    await receivedAtLeast(key, 3);
    await staysAt(key, 3, 300);
    expect(await storedEventCount(tenant.id)).toBe(3);
    // A single publish with the same key and request replays the batch's event too.
    const single = await api("/api/v1/events", { method: "POST", key: tenant.key, headers: { "Idempotency-Key": "k-2" }, json: created("q-2") });
    expect(await single.json()).toEqual({ ...results[2], replayed: true });
  });

  it("refuses the whole batch, storing nothing, when a key was used for another request, repeats in the batch, or data is invalid", async () => {
    const tenant = await createTenant();
    await receiverWebhook(tenant, uniqueKey());
    await publishedBatch(tenant, [{ ...created("q-1"), idempotency_key: "k-1" }]);

    const reused = await expectError(await batch(tenant, [created("q-0"), { ...created("other"), idempotency_key: "k-1" }]), 422, "idempotency_key_reused");
    expect(reused.message).toMatch(/^events\[1\]: idempotency_key "k-1"/);
    const repeated = await expectError(
      await batch(tenant, [
        { ...created("a"), idempotency_key: "k-9" },
        { ...created("b"), idempotency_key: "k-9" },
      ]),
      422,
      "validation_failed",
    );
    expect(repeated.fields).toEqual([{ field: "events[1].idempotency_key", message: expect.stringContaining("events[0]") }]);
    await expectError(await batch(tenant, [created("ok"), { event: "query.created", data: { query_id: "missing fields" } }]), 422, "validation_failed");
    await expectError(await batch(tenant, []), 422, "validation_failed");
    await expectError(
      await batch(
        tenant,
        Array.from({ length: 101 }, (_, i) => created(`q-${i}`)),
      ),
      422,
      "validation_failed",
    );
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const tooDeep = await expectError(
      await batch(tenant, [created("ok"), { event: "query.created", data: { ...created("x").data, extra: deep } }]),
      422,
      "validation_failed",
    );
    expect(tooDeep.fields?.[0].field).toBe("events[1].data");

    expect(await storedEventCount(tenant.id)).toBe(1);
  });

  it("checks the fan-out quota of every event: one over the limit refuses the batch, nothing stored or enqueued", async () => {
    const tenant = await createTenant();
    const url = receiver.url(uniqueKey());
    await receiverWebhook(tenant, uniqueKey(), undefined, { url, events: ["query.created", "query.resolved"] });
    await receiverWebhook(tenant, uniqueKey(), undefined, { url, events: ["query.resolved"] });
    const queue = recordingQueue();
    const limit = { MAX_FANOUT_PER_EVENT: "1", DELIVERY_QUEUE: queue.queue };
    const send = (events: unknown[]) => apiWithEnv(limit, "/api/v1/events/batch", { method: "POST", key: tenant.key, json: { events } });

    for (const events of [
      [created("a"), { event: "query.resolved", data: exampleData("query.resolved") }],
      [{ event: "query.resolved", data: exampleData("query.resolved") }, created("a")],
    ]) {
      const error = await expectError(await send(events), 403, "quota_exceeded");
      expect(error.message).toMatch(/MAX_FANOUT_PER_EVENT/);
    }
    expect(await storedEventCount(tenant.id)).toBe(0);
    expect(await storedDeliveryCount(tenant.id)).toBe(0);
    expect(queue.calls).toEqual([]);
    expect((await send([created("a"), created("b")])).status).toBe(202);
  });

  it("is described in the OpenAPI document", async () => {
    const doc = (await (await api("/openapi.json")).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(Object.keys(doc.paths["/api/v1/events/batch"].post.responses).sort()).toEqual([
      "202",
      "400",
      "401",
      "403",
      "413",
      "415",
      "422",
      "429",
      "500",
      "503",
    ]);
  });
});
