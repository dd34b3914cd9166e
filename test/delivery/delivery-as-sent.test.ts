import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { serviceContext } from "../../src/services/context";
import { deliveryAsSent } from "../../src/services/delivery-as-sent";
import { receiverWebhook } from "../helpers/delivery";
import { api, createTenant, receiver, uniqueKey } from "../helpers/harness";

describe("deliveryAsSent (the portal's delivery detail)", () => {
  it("rebuilds the body and the headers the receiver got, signed with the delivery step's keys", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const res = await api(`/api/v1/webhooks/${webhook.id}/test`, { method: "POST", key: tenant.key });
    const { delivery_id } = (await res.json()) as { delivery_id: string };
    const [request] = await receiver.requests(key);

    const sent = await deliveryAsSent(serviceContext(env, loadConfig(env), tenant.id), webhook.id, delivery_id);

    expect(sent.sent).toBe(true);
    expect(sent.body).toBe(request.body);
    for (const header of ["x-webhook-signature", "x-webhook-timestamp", "webhook-id", "webhook-timestamp", "webhook-signature"]) {
      expect(Object.entries(sent.headers).find(([name]) => name.toLowerCase() === header)?.[1], header).toBe(request.headers[header]);
    }
  });
});
