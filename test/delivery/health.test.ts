import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldCounterDeltas } from "../../src/db/counters";
import {
  consume,
  deliveryDetail,
  deliveryLog,
  eventually,
  insertDelivery,
  job,
  published,
  receivedAtLeast,
  receiverWebhook,
  webhookView,
} from "../helpers/delivery";
import { api, createTenant, GUIDE_TIMESTAMP, type Tenant, uniqueKey, type WebhookView } from "../helpers/harness";

/** The webhook's deliveries with their attempt logs. */
const finishedDeliveries = async (tenant: Tenant, webhookId: string) =>
  Promise.all((await deliveryLog(tenant, webhookId)).map((d) => deliveryDetail(tenant, webhookId, d.id)));

/** Three failed deliveries in a row disable a webhook, with no minimum span unless a test sets one. */
const RULES = { AUTO_DISABLE_AFTER_FAILURES: "3", AUTO_DISABLE_MIN_SECONDS: "0.001" };

/** One pending delivery for the webhook, consumed by hand with `overrides`. */
async function deliverOnce(tenant: Tenant, webhookId: string, overrides: Record<string, string> = RULES) {
  const { deliveryId } = await insertDelivery(tenant, webhookId);
  await consume([job(webhookId, deliveryId)], overrides);
}

describe("endpoint health", () => {
  it("counts failed deliveries in a row; a success resets the streak; the webhook shows its last delivery and success", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "404,404,200,404");
    expect(webhook).toMatchObject({ consecutive_failures: 0, last_delivery_at: null, last_success_at: null, disabled_at: null });

    await deliverOnce(tenant, webhook.id);
    await deliverOnce(tenant, webhook.id);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ consecutive_failures: 2, is_active: true, last_success_at: null });
    await deliverOnce(tenant, webhook.id);
    const healthy = await webhookView(tenant, webhook.id);
    expect(healthy).toMatchObject({ consecutive_failures: 0, is_active: true });
    expect(healthy.last_success_at).toMatch(GUIDE_TIMESTAMP);
    expect(healthy.last_delivery_at).toMatch(GUIDE_TIMESTAMP);
    await deliverOnce(tenant, webhook.id);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ consecutive_failures: 1, is_active: true });
  });

  it("disables a webhook after AUTO_DISABLE_AFTER_FAILURES failed deliveries spanning AUTO_DISABLE_MIN_SECONDS; PUT is_active: true re-enables", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "500");
    const fiveDays = { AUTO_DISABLE_AFTER_FAILURES: "3", AUTO_DISABLE_MIN_SECONDS: "432000" };
    const oneAttempt = { ...fiveDays, DELIVERY_MAX_ATTEMPTS: "1" };
    for (let i = 0; i < 4; i++) await deliverOnce(tenant, webhook.id, oneAttempt);
    // Four failures in a row, but within seconds: not yet five days.
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ consecutive_failures: 4, is_active: true, disabled_at: null });

    await env.DB.prepare("UPDATE webhooks SET failing_since = ? WHERE id = ?")
      .bind(Date.now() - 433_000_000, webhook.id)
      .run();
    await deliverOnce(tenant, webhook.id, oneAttempt);
    const disabled = await webhookView(tenant, webhook.id);
    expect(disabled).toMatchObject({ is_active: false, consecutive_failures: 5 });
    expect(disabled.disabled_at).toMatch(GUIDE_TIMESTAMP);
    expect(disabled.disabled_reason).toMatch(/^5 failed deliveries in a row since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Disabled webhooks get nothing new.
    expect((await published(tenant, "query.created")).deliveries_scheduled).toBe(0);

    const res = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { is_active: true } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ is_active: true, disabled_at: null, disabled_reason: null, consecutive_failures: 0 });
  });

  it("a 410 Gone disables the webhook at once; its other pending deliveries are cancelled, not sent", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "410");
    const first = await insertDelivery(tenant, webhook.id);
    const second = await insertDelivery(tenant, webhook.id);
    await consume([job(webhook.id, first.deliveryId)]);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({
      is_active: false,
      disabled_reason: "The endpoint answered 410 Gone",
      consecutive_failures: 1,
    });
    await consume([job(webhook.id, second.deliveryId)]);
    const row = await env.DB.prepare("SELECT status FROM deliveries WHERE id = ?").bind(second.deliveryId).first<{ status: string }>();
    expect(row?.status).toBe("cancelled");
  });

  it("end to end through the queue: a failed delivery starts the streak and stamps last_delivery_at", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "404");
    await published(tenant, "query.created");
    const view = await eventually(async () => {
      const v = await webhookView(tenant, webhook.id);
      return v.consecutive_failures === 1 ? v : null;
    });
    // One failure of the 50 in a row (over 5 days) that would disable it.
    expect(view).toMatchObject({ is_active: true, disabled_at: null });
    expect(view.last_delivery_at).toMatch(GUIDE_TIMESTAMP);
  });

  it("a healthy endpoint costs no webhook row write: its last delivery and success come with the counter deltas, the same before and after the fold", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const stored = () =>
      env.DB.prepare("SELECT last_delivery_at, last_success_at, updated_at FROM webhooks WHERE id = ?")
        .bind(webhook.id)
        .first<{ last_delivery_at: number | null; last_success_at: number | null; updated_at: number }>();
    const before = await stored();
    await published(tenant, "query.created");
    await published(tenant, "query.created");
    await receivedAtLeast(key, 2);
    const view = await eventually(async () => {
      const v = await webhookView(tenant, webhook.id);
      return v.delivery_count === 2 ? v : null;
    });
    expect(await stored()).toEqual(before); // nothing written to the webhook row by the deliveries
    const [{ attempted_at: last }] = (await finishedDeliveries(tenant, webhook.id))
      .map((d) => d.attempt_log[0])
      .sort((a, b) => (a.attempted_at < b.attempted_at ? 1 : -1));
    expect(view.last_delivery_at).toBe(last);
    expect(view.last_success_at).toBe(last);
    const [listed] = (await (await api("/api/v1/webhooks", { key: tenant.key })).json()) as WebhookView[];
    expect(listed).toMatchObject({ last_delivery_at: last, last_success_at: last });

    await foldCounterDeltas(env.DB);
    const folded = (await stored())!.last_delivery_at!; // epoch ms; the API shows whole seconds
    expect(folded - (folded % 1000)).toBe(Date.parse(last));
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ last_delivery_at: last, last_success_at: last, delivery_count: 2 });
  });
});
