import { env } from "cloudflare:workers";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/delivery/canonical-json";
import {
  deliveryLog,
  eventually,
  exampleData,
  finishedDelivery,
  manyWebhooks,
  published,
  receivedAtLeast,
  receiverWebhook,
  staysAt,
  webhookView,
} from "../helpers/delivery";
import { api, createTenant, GUIDE_TIMESTAMP, receiver, uniqueKey } from "../helpers/harness";
import type { ReceivedRequest } from "../setup/receiver";

/** The guide's Python verifier, in JS: HMAC over json.dumps(payload, sort_keys=True, separators=(',', ':')). */
const pythonRecipeSignature = (body: string, secret: string) =>
  createHmac("sha256", secret)
    .update(canonicalJson(JSON.parse(body)))
    .digest("hex");

/** The guide's Node.js verifier: HMAC over JSON.stringify(req.body). */
const nodeRecipeSignature = (body: string, secret: string) =>
  createHmac("sha256", secret)
    .update(JSON.stringify(JSON.parse(body)))
    .digest("hex");

const standardHeaders = (request: ReceivedRequest) => ({
  "webhook-id": request.headers["webhook-id"],
  "webhook-timestamp": request.headers["webhook-timestamp"],
  "webhook-signature": request.headers["webhook-signature"],
});

describe("publish → queue → consumer → receiver", () => {
  it("delivers the guide's body, canonical, signed both ways, with the guide's headers", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const data = exampleData("query.created");

    const event = await published(tenant, "query.created", data);
    const delivery = await finishedDelivery(tenant, webhook.id);
    const [request] = await receiver.requests(key);

    expect(delivery).toMatchObject({ status: "success", attempts: 1, last_status_code: 200, last_error: null, event_id: event.event_id });
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toBe("application/json");
    // Exactly the guide's four fields, keys sorted, no whitespace.
    expect(request.body).toBe(
      `{"data":{"category":"Technical","priority":7,"query":"My application keeps crashing when I try to export data",` +
        `"query_id":"conv_abc123","sentiment":"Negative","user_id":"user_456"},"event":"query.created",` +
        `"timestamp":"${event.created_at}","webhook_id":"${webhook.id}"}`,
    );
    expect(JSON.parse(request.body)).toEqual({ event: "query.created", timestamp: event.created_at, webhook_id: webhook.id, data });
    expect(request.body).toBe(canonicalJson(JSON.parse(request.body)));

    const signature = request.headers["x-webhook-signature"];
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(signature).toBe(createHmac("sha256", webhook.secret_key).update(request.body).digest("hex"));
    expect(pythonRecipeSignature(request.body, webhook.secret_key)).toBe(signature);
    expect(JSON.stringify(JSON.parse(request.body))).toBe(request.body);
    expect(nodeRecipeSignature(request.body, webhook.secret_key)).toBe(signature);

    expect(request.headers["x-webhook-id"]).toBe(webhook.id);
    expect(request.headers["x-webhook-timestamp"]).toMatch(GUIDE_TIMESTAMP);
    expect(request.headers["webhook-id"]).toBe(delivery.id);
    expect(Number(request.headers["webhook-timestamp"])).toBe(Date.parse(request.headers["x-webhook-timestamp"]) / 1000);
    expect(new Webhook(webhook.secret_key, { format: "raw" }).verify(request.body, standardHeaders(request))).toEqual(JSON.parse(request.body));
    expect(() => new Webhook("wsk_live_someone_else", { format: "raw" }).verify(request.body, standardHeaders(request))).toThrow();
  });

  it("non-ASCII and float data: the Python recipe and Standard Webhooks verify; the Node recipe holds for ASCII only", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200", { events: ["query.resolved"] });
    const data = { ...exampleData("query.resolved"), response: "Résolu ✓ — 日本語 😀", resolution_time_seconds: 0.1 };

    await published(tenant, "query.resolved", data);
    await finishedDelivery(tenant, webhook.id);
    const [request] = await receiver.requests(key);

    expect(request.body).toContain('"response":"R\\u00e9solu \\u2713 \\u2014 \\u65e5\\u672c\\u8a9e \\ud83d\\ude00"');
    expect(request.body).toContain('"resolution_time_seconds":0.1');
    expect(JSON.parse(request.body).data).toEqual(data);
    expect(pythonRecipeSignature(request.body, webhook.secret_key)).toBe(request.headers["x-webhook-signature"]);
    expect(new Webhook(webhook.secret_key, { format: "raw" }).verify(request.body, standardHeaders(request))).toEqual(JSON.parse(request.body));
    // JSON.stringify does not escape non-ASCII as Python does, so the guide's Node recipe recomputes other bytes.
    expect(JSON.stringify(JSON.parse(request.body))).not.toBe(request.body);
  });

  it("keeps webhook-id and X-Webhook-Signature across retries; each attempt is signed for its own timestamp", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,200");

    await published(tenant, "query.created");
    const delivery = await finishedDelivery(tenant, webhook.id);
    const requests = await receiver.requests(key);

    expect(delivery).toMatchObject({ status: "success", attempts: 2 });
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual([delivery.id, delivery.id]);
    expect(requests.map((r) => r.headers["x-webhook-id"])).toEqual([webhook.id, webhook.id]);
    expect(requests[1].body).toBe(requests[0].body);
    expect(requests[1].headers["x-webhook-signature"]).toBe(requests[0].headers["x-webhook-signature"]);
    // The retry waited at least its 1 s, so its Standard Webhooks timestamp (and signature) moved on.
    expect(Number(requests[1].headers["webhook-timestamp"])).toBeGreaterThan(Number(requests[0].headers["webhook-timestamp"]));
    expect(requests[1].headers["webhook-signature"]).not.toBe(requests[0].headers["webhook-signature"]);
    for (const request of requests) {
      expect(new Webhook(webhook.secret_key, { format: "raw" }).verify(request.body, standardHeaders(request))).toEqual(JSON.parse(request.body));
    }
  });
});

describe("fan-out", () => {
  it("150 endpoints each receive the event exactly once, with their own webhook_id", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const ids = await manyWebhooks(tenant, 150, receiver.url(key), "query.escalated");

    const event = await published(tenant, "query.escalated");
    expect(event.deliveries_scheduled).toBe(150);
    const requests = await receivedAtLeast(key, 150);
    await eventually(async () => {
      const { results } = await env.DB.prepare("SELECT status, COUNT(*) AS n FROM deliveries WHERE tenant_id = ? GROUP BY status")
        .bind(tenant.id)
        .all<{ status: string; n: number }>();
      return results.length === 1 && results[0].status === "success" && results[0].n === 150;
    });

    expect(requests).toHaveLength(150);
    expect(requests.map((r) => r.headers["x-webhook-id"]).sort()).toEqual([...ids].sort());
    expect(requests.map((r) => JSON.parse(r.body).webhook_id).sort()).toEqual([...ids].sort());
    // webhook-id is the delivery's id: a first send's is its event's, the same for every endpoint (as Svix's message id).
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([event.event_id]));
    expect(await receiver.requests(key)).toHaveLength(150);
  });

  it("keeps at most six requests open per invocation (the Workers limit); the rest start in a new one once those six are detached", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const ids = await manyWebhooks(tenant, 8, receiver.url(key, "hang"), "query.escalated");

    await published(tenant, "query.escalated");
    const firstSix = await receivedAtLeast(key, 6);
    // The six hang until DELIVERY_TIMEOUT_MS (3000 ms after each was sent). No seventh starts in
    // their invocation; at SLOW_ATTEMPT_MS (1000 ms) they are detached and the batch hands the
    // other two to a new job, whose invocation has six connections of its own.
    await staysAt(key, 6, firstSix[0].received_at + 700);
    const requests = await receivedAtLeast(key, 8);
    expect(new Set(requests.slice(0, 8).map((r) => r.headers["x-webhook-id"]))).toEqual(new Set(ids));
    // Each attempt was sent and then timed out; none timed out while waiting for a connection.
    const logs = await eventually(async () => {
      const all = await Promise.all(ids.map(async (id) => (await deliveryLog(tenant, id))[0]));
      return all.every((d) => d.attempts >= 1) && all;
    });
    for (const delivery of logs) expect(delivery.last_error).toBe("Timed out after 3000 ms");
  });

  it("only active webhooks subscribed to the type receive it", async () => {
    const tenant = await createTenant();
    const [subscribedKey, otherTypeKey, inactiveKey, deletedKey] = [uniqueKey(), uniqueKey(), uniqueKey(), uniqueKey()];
    const subscribed = await receiverWebhook(tenant, subscribedKey, "200", { events: ["query.resolved", "query.created"] });
    const otherType = await receiverWebhook(tenant, otherTypeKey, "200", { events: ["query.resolved"] });
    const inactive = await receiverWebhook(tenant, inactiveKey, "200", { is_active: false });
    const deleted = await receiverWebhook(tenant, deletedKey);
    expect((await api(`/api/v1/webhooks/${deleted.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);

    const event = await published(tenant, "query.created");
    await finishedDelivery(tenant, subscribed.id);

    expect(event.deliveries_scheduled).toBe(1);
    expect(await receiver.requests(subscribedKey)).toHaveLength(1);
    const { results } = await env.DB.prepare("SELECT webhook_id FROM deliveries WHERE event_id = ?").bind(event.event_id).all();
    expect(results).toEqual([{ webhook_id: subscribed.id }]);
    expect(await deliveryLog(tenant, otherType.id)).toEqual([]);
    expect(await deliveryLog(tenant, inactive.id)).toEqual([]);
    for (const key of [otherTypeKey, inactiveKey, deletedKey]) expect(await receiver.requests(key)).toEqual([]);
    expect((await webhookView(tenant, inactive.id)).delivery_count).toBe(0);
  });
});
