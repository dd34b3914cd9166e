import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { serviceContext } from "../../src/services/context";
import { RECOVER_LIMIT, recoverDeliveries } from "../../src/services/redelivery";
import {
  deliveryDetail,
  deliveryLog,
  eventually,
  finishedDelivery,
  finishedHurrying,
  insertDelivery,
  published,
  receiverWebhook,
  storedDelivery,
  webhookView,
} from "../helpers/delivery";
import { api, createTenant, expectError, rawJson, receiver, type Tenant, uniqueKey } from "../helpers/harness";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const iso = (epochMs: number) => new Date(epochMs).toISOString();

const recover = (tenant: Tenant, webhookId: string, json: unknown) => api(`/api/v1/webhooks/${webhookId}/recover`, { method: "POST", key: tenant.key, json });

async function recovered(tenant: Tenant, webhookId: string, json: unknown): Promise<{ deliveries_queued: number; has_more: boolean }> {
  const res = await recover(tenant, webhookId, json);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return JSON.parse(text);
}

/** Waits until every listed delivery has succeeded. */
const allSucceeded = (tenant: Tenant, webhookId: string, deliveryIds: string[]) =>
  eventually(async () => {
    const details = await Promise.all(deliveryIds.map((id) => deliveryDetail(tenant, webhookId, id)));
    return details.every((d) => d.status === "success") ? details : null;
  });

describe("POST /api/v1/webhooks/{id}/recover", () => {
  it("re-queues a delivery that failed after 3 attempts (500 ×3): the 4th attempt succeeds, counters follow the log", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,500,500,200");
    await published(tenant, "query.created");
    await finishedHurrying(webhook.id);
    const failed = await finishedDelivery(tenant, webhook.id);
    expect(failed).toMatchObject({ status: "failed", attempts: 3 });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 1 });

    expect(await recovered(tenant, webhook.id, { since: iso(Date.now() - MINUTE) })).toEqual({ deliveries_queued: 1, has_more: false });

    const [done] = await allSucceeded(tenant, webhook.id, [failed.id]);
    expect(done).toMatchObject({ status: "success", attempts: 4, last_status_code: 200 });
    expect(done.attempt_log.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
      [4, 200],
    ]);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
    const requests = await receiver.requests(key);
    expect(requests.map((r) => r.headers["webhook-id"])).toEqual([failed.id, failed.id, failed.id, failed.id]);

    // Nothing failed is left in the range: a second call queues nothing.
    expect(await recovered(tenant, webhook.id, { since: iso(Date.now() - MINUTE) })).toEqual({ deliveries_queued: 0, has_more: false });
  });

  it("takes only failed deliveries of this webhook created in [since, until)", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const sibling = await receiverWebhook(tenant, uniqueKey());
    const base = Date.now() - 3 * HOUR;
    const since = base + HOUR;
    const until = base + 2 * HOUR;
    const failed = (createdAt: number, webhookId = webhook.id) => insertDelivery(tenant, webhookId, { status: "failed", attempts: 3, createdAt });

    const before = await failed(since - 1);
    const atSince = await failed(since);
    const inside = await failed(since + 30 * MINUTE);
    const atUntil = await failed(until);
    const pending = await insertDelivery(tenant, webhook.id, { status: "pending", createdAt: since + MINUTE });
    const succeeded = await insertDelivery(tenant, webhook.id, { status: "success", attempts: 1, createdAt: since + MINUTE });
    const cancelled = await insertDelivery(tenant, webhook.id, { status: "cancelled", createdAt: since + MINUTE });
    const siblings = await failed(since + MINUTE, sibling.id);
    const untouched = [before, atUntil, pending, succeeded, cancelled, siblings];
    const rowsBefore = await Promise.all(untouched.map((d) => storedDelivery(d.deliveryId)));

    expect(await recovered(tenant, webhook.id, { since: iso(since), until: iso(until) })).toEqual({ deliveries_queued: 2, has_more: false });

    const done = await allSucceeded(tenant, webhook.id, [atSince.deliveryId, inside.deliveryId]);
    expect(done.map((d) => d.attempts)).toEqual([4, 4]);
    expect(new Set((await receiver.requests(key)).map((r) => r.headers["webhook-id"]))).toEqual(new Set([atSince.deliveryId, inside.deliveryId]));
    expect(await Promise.all(untouched.map((d) => storedDelivery(d.deliveryId)))).toEqual(rowsBefore);
  });

  it("until defaults to now; a since older than 30 days (or before 1970) is fine", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const old = await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 3, createdAt: Date.now() - 40 * DAY });

    expect(await recovered(tenant, webhook.id, { since: iso(Date.now() - 60 * DAY) })).toEqual({ deliveries_queued: 1, has_more: false });
    await allSucceeded(tenant, webhook.id, [old.deliveryId]);
    expect(await recovered(tenant, webhook.id, { since: "1960-01-01T00:00:00Z" })).toEqual({ deliveries_queued: 0, has_more: false });
    // Offsets and fractions of a second are ISO 8601 too.
    expect(await recovered(tenant, webhook.id, { since: "2024-11-24T12:00:00.250+02:00", until: "2024-11-25T12:00:00Z" })).toEqual({
      deliveries_queued: 0,
      has_more: false,
    });
  });

  it(`claims at most the limit per call (${RECOVER_LIMIT} in the API; 2 here), has_more until the range is done, oldest first`, async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "404,404,404,200");
    for (let i = 0; i < 3; i++) await published(tenant, "query.created");
    const failed = await eventually(async () => {
      const log = await deliveryLog(tenant, webhook.id);
      return log.length === 3 && log.every((d) => d.status === "failed") ? log : null;
    });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 3, failure_count: 3 });
    const oldestFirst = failed.map((d) => d.id).sort();
    const range = { since: Date.now() - MINUTE, until: Date.now() + MINUTE };
    const ctx = serviceContext(env, loadConfig(env), tenant.id);

    expect(await recoverDeliveries(ctx, webhook.id, range, 2)).toEqual({ deliveries_queued: 2, has_more: true });
    expect((await storedDelivery(oldestFirst[2]))!.status).toBe("failed");
    expect(await recoverDeliveries(ctx, webhook.id, range, 2)).toEqual({ deliveries_queued: 1, has_more: false });
    expect(await recoverDeliveries(ctx, webhook.id, range, 2)).toEqual({ deliveries_queued: 0, has_more: false });

    await allSucceeded(tenant, webhook.id, oldestFirst);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 3, failure_count: 0 });
    expect(await receiver.requests(key)).toHaveLength(6);
  });

  it("exactly the limit re-queued: has_more, and the next call finds nothing", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const rows = [
      await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 1 }),
      await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 1 }),
    ];
    const range = { since: Date.now() - MINUTE, until: Date.now() + MINUTE };
    const ctx = serviceContext(env, loadConfig(env), tenant.id);

    expect(await recoverDeliveries(ctx, webhook.id, range, 2)).toEqual({ deliveries_queued: 2, has_more: true });
    expect(await recoverDeliveries(ctx, webhook.id, range, 2)).toEqual({ deliveries_queued: 0, has_more: false });
    await allSucceeded(
      tenant,
      webhook.id,
      rows.map((r) => r.deliveryId),
    );
  });
});

describe("POST …/recover refuses", () => {
  const now = Date.now();
  it.each([
    ["since missing", {}, "since"],
    ["since not a time", { since: "yesterday" }, "since"],
    ["since a date without a time", { since: "2024-11-24" }, "since"],
    ["since a number", { since: now - HOUR }, "since"],
    ["until not a time", { since: iso(now - HOUR), until: "now" }, "until"],
    ["since equal to until", { since: iso(now - HOUR), until: iso(now - HOUR) }, "since"],
    ["since after until", { since: iso(now - HOUR), until: iso(now - 2 * HOUR) }, "since"],
    ["since in the future, until omitted", { since: iso(now + HOUR) }, "since"],
    ["a body that is not an object", [iso(now - HOUR)], "(body)"],
  ])("%s: 422 validation_failed on %s", async (_case, json, field) => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 1 });
    const error = await expectError(await recover(tenant, webhook.id, json), 422, "validation_failed");
    expect(error.fields?.[0].field).toBe(field);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "failed" });
  });

  it("states the order rule in words", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const after = await expectError(await recover(tenant, webhook.id, { since: iso(now), until: iso(now - HOUR) }), 422, "validation_failed");
    expect(after.fields).toEqual([{ field: "since", message: "since must be before until" }]);
    const future = await expectError(await recover(tenant, webhook.id, { since: iso(Date.now() + HOUR) }), 422, "validation_failed");
    expect(future.fields).toEqual([{ field: "since", message: "since must be in the past (until defaults to now)" }]);
  });

  it("malformed JSON: 400 invalid_json", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    await expectError(await api(`/api/v1/webhooks/${webhook.id}/recover`, { method: "POST", key: tenant.key, ...rawJson("{since:") }), 400, "invalid_json");
  });

  it("an inactive webhook: 409 conflict, nothing re-queued", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), undefined, { is_active: false });
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { status: "failed", attempts: 1 });
    const error = await expectError(await recover(tenant, webhook.id, { since: iso(Date.now() - HOUR) }), 409, "conflict");
    expect(error.message).toMatch(/inactive/);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "failed" });
  });

  it.each([
    ["an unknown webhook", UNKNOWN_ID],
    ["a non-UUID id", "nope"],
  ])("%s: 404 not_found", async (_case, id) => {
    const tenant = await createTenant();
    await expectError(await recover(tenant, id, { since: iso(Date.now() - HOUR) }), 404, "not_found");
  });

  it("without an API key: 401", async () => {
    await expectError(await api(`/api/v1/webhooks/${UNKNOWN_ID}/recover`, { method: "POST", json: { since: iso(Date.now() - HOUR) } }), 401, "unauthorized");
  });
});

describe("POST …/recover: tenant isolation", () => {
  it("another tenant's webhook: 404, and its failed deliveries stay failed", async () => {
    const [owner, other] = [await createTenant(), await createTenant()];
    const webhook = await receiverWebhook(owner, uniqueKey());
    const { deliveryId } = await insertDelivery(owner, webhook.id, { status: "failed", attempts: 1 });
    const before = await storedDelivery(deliveryId);

    await expectError(await recover(other, webhook.id, { since: iso(Date.now() - HOUR) }), 404, "not_found");
    expect(await storedDelivery(deliveryId)).toEqual(before);
  });

  it("re-queues only the calling tenant's own webhook's deliveries", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const webhookA = await receiverWebhook(a, uniqueKey());
    const webhookB = await receiverWebhook(b, uniqueKey());
    const ofA = await insertDelivery(a, webhookA.id, { status: "failed", attempts: 1 });
    const ofB = await insertDelivery(b, webhookB.id, { status: "failed", attempts: 1 });
    const bBefore = await storedDelivery(ofB.deliveryId);

    expect(await recovered(a, webhookA.id, { since: iso(Date.now() - HOUR) })).toEqual({ deliveries_queued: 1, has_more: false });
    await allSucceeded(a, webhookA.id, [ofA.deliveryId]);
    expect(await storedDelivery(ofB.deliveryId)).toEqual(bBefore);
  });
});
