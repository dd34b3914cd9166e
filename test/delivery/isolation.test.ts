import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deliveryDetail, deliveryLog, finishedDelivery, published, receiverWebhook, webhookView } from "../helpers/delivery";
import { api, createTenant, expectError, receiver, uniqueKey } from "../helpers/harness";

/** Tenant A with a webhook that has one finished delivery, and tenant B with a webhook of its own. */
async function twoTenants() {
  const [a, b] = [await createTenant(), await createTenant()];
  const [keyA, keyB] = [uniqueKey("a"), uniqueKey("b")];
  const webhookA = await receiverWebhook(a, keyA);
  const webhookB = await receiverWebhook(b, keyB);
  await published(a, "query.created");
  const deliveryA = await finishedDelivery(a, webhookA.id);
  return { a, b, keyA, keyB, webhookA, webhookB, deliveryA };
}

describe("tenant isolation of deliveries", () => {
  it("tenant B gets 404 for A's delivery log and deliveries, even through its own webhook", async () => {
    const { a, b, webhookA, webhookB, deliveryA } = await twoTenants();

    await expectError(await api(`/api/v1/webhooks/${webhookA.id}/deliveries`, { key: b.key }), 404, "not_found");
    await expectError(await api(`/api/v1/webhooks/${webhookA.id}/deliveries/${deliveryA.id}`, { key: b.key }), 404, "not_found");
    await expectError(await api(`/api/v1/webhooks/${webhookB.id}/deliveries/${deliveryA.id}`, { key: b.key }), 404, "not_found");
    expect(await deliveryLog(b, webhookB.id)).toEqual([]);
    expect(await deliveryDetail(a, webhookA.id, deliveryA.id)).toEqual(deliveryA);
  });

  it("tenant B gets 404 for A's test endpoint, and nothing is sent or logged", async () => {
    const { a, b, keyA, webhookA } = await twoTenants();
    const before = await webhookView(a, webhookA.id);

    await expectError(await api(`/api/v1/webhooks/${webhookA.id}/test`, { method: "POST", key: b.key }), 404, "not_found");

    expect(await receiver.requests(keyA)).toHaveLength(1);
    expect(await deliveryLog(a, webhookA.id)).toHaveLength(1);
    expect(await webhookView(a, webhookA.id)).toEqual(before);
    const { results } = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE tenant_id = ?").bind(b.id).all<{ n: number }>();
    expect(results[0].n).toBe(0);
  });

  it("an event published by A reaches only A's webhooks", async () => {
    const { b, keyA, keyB, webhookB } = await twoTenants();
    expect(await receiver.requests(keyA)).toHaveLength(1);
    expect(await receiver.requests(keyB)).toEqual([]);
    expect(await deliveryLog(b, webhookB.id)).toEqual([]);
    const { results } = await env.DB.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE webhook_id = ?").bind(webhookB.id).all<{ n: number }>();
    expect(results[0].n).toBe(0);
  });
});
