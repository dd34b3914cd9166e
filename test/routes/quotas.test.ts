import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { exampleData, recordingQueue, storedDeliveryCount, storedEventCount } from "../helpers/delivery";
import {
  api,
  apiWithEnv,
  createTenant,
  createWebhook,
  expectError,
  receiver,
  storedWebhookCount,
  type Tenant,
  uniqueKey,
  type WebhookCreated,
  webhookBody,
  withoutNewWebhooks,
} from "../helpers/harness";

// The suite raises MAX_WEBHOOKS_PER_TENANT (vitest.config.ts); unset here, the default applies.
const DEFAULT_WEBHOOK_QUOTA: Partial<Env> = { MAX_WEBHOOKS_PER_TENANT: undefined };

const createWith = (overrides: Partial<Env>, tenant: Tenant, body: Record<string, unknown> = webhookBody()) =>
  apiWithEnv(overrides, "/api/v1/webhooks", { method: "POST", key: tenant.key, json: body });

const deleteWebhook = async (tenant: Tenant, id: string) =>
  expect((await api(`/api/v1/webhooks/${id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);

/**
 * `n` live webhooks of the tenant written straight into D1 (one statement), subscribed to
 * `events`: how a test reaches a quota of hundreds without hundreds of requests.
 */
async function insertWebhooks(tenant: Tenant, n: number, events: string[] = ["query.created"], url = receiver.url(uniqueKey())) {
  const now = Date.now();
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO webhooks (id, tenant_id, url, events, secret_encrypted, is_active, created_at, updated_at)
     SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-8' ||
       substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), ?, ?, ?, 'not-a-secret', 1, ?, ? FROM n`,
  )
    .bind(n, tenant.id, url, JSON.stringify(events), now, now)
    .run();
}

describe("MAX_WEBHOOKS_PER_TENANT", () => {
  it("refuses a tenant's 101st webhook with 403 quota_exceeded by default, naming the limit, and stores nothing", async () => {
    const tenant = await createTenant();
    await insertWebhooks(tenant, 99);
    expect((await createWith(DEFAULT_WEBHOOK_QUOTA, tenant)).status).toBe(201);

    const res = await withoutNewWebhooks(tenant, () => createWith(DEFAULT_WEBHOOK_QUOTA, tenant));

    const error = await expectError(res, 403, "quota_exceeded");
    expect(error.message).toBe("Webhook quota reached: a tenant may have at most 100 webhooks (MAX_WEBHOOKS_PER_TENANT); delete one first");
    expect(await storedWebhookCount(tenant.id)).toBe(100);
  });

  it("counts inactive webhooks but not soft-deleted ones", async () => {
    const tenant = await createTenant();
    const limit = { MAX_WEBHOOKS_PER_TENANT: "2" };
    const first = (await (await createWith(limit, tenant)).json()) as WebhookCreated;
    expect((await createWith(limit, tenant, webhookBody({ is_active: false }))).status).toBe(201);
    const refused = await createWith(limit, tenant);
    expect((await expectError(refused, 403, "quota_exceeded")).message).toContain("at most 2 webhooks");

    await deleteWebhook(tenant, first.id);

    expect((await createWith(limit, tenant)).status).toBe(201);
    await expectError(await createWith(limit, tenant), 403, "quota_exceeded");
    expect(await storedWebhookCount(tenant.id)).toBe(3); // the deleted row stays, soft-deleted
  });

  it("holds under concurrent creates: exactly the quota's worth succeed", async () => {
    const tenant = await createTenant();
    const limit = { MAX_WEBHOOKS_PER_TENANT: "3" };

    const statuses = await Promise.all(Array.from({ length: 8 }, () => createWith(limit, tenant).then((res) => res.status)));

    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 403)).toHaveLength(5);
    expect(await storedWebhookCount(tenant.id)).toBe(3);
  });

  it("is per tenant", async () => {
    const [full, other] = [await createTenant(), await createTenant()];
    const limit = { MAX_WEBHOOKS_PER_TENANT: "1" };
    expect((await createWith(limit, full)).status).toBe(201);
    await expectError(await createWith(limit, full), 403, "quota_exceeded");

    expect((await createWith(limit, other)).status).toBe(201);
  });
});

describe("MAX_FANOUT_PER_EVENT", () => {
  const publishWith = (overrides: Partial<Env>, tenant: Tenant, headers: Record<string, string> = {}) =>
    apiWithEnv(overrides, "/api/v1/events", { method: "POST", key: tenant.key, headers, json: { event: "query.created", data: exampleData("query.created") } });

  it("refuses a publish to more than 1,000 subscribers by default with 403, storing and enqueuing nothing", async () => {
    const tenant = await createTenant();
    await insertWebhooks(tenant, 1001);
    const queue = recordingQueue();

    const res = await publishWith({ DELIVERY_QUEUE: queue.queue }, tenant, { "Idempotency-Key": "over" });

    const error = await expectError(res, 403, "quota_exceeded");
    expect(error.message).toBe("Fan-out quota exceeded: an event may go to at most 1000 subscribed active webhooks (MAX_FANOUT_PER_EVENT)");
    expect(await storedEventCount(tenant.id)).toBe(0);
    expect(await storedDeliveryCount(tenant.id)).toBe(0);
    expect(queue.calls).toEqual([]);

    // At the limit it goes through, and the refused Idempotency-Key was not used up.
    await env.DB.prepare("UPDATE webhooks SET is_active = 0 WHERE id = (SELECT id FROM webhooks WHERE tenant_id = ? LIMIT 1)").bind(tenant.id).run();
    const accepted = await publishWith({ DELIVERY_QUEUE: queue.queue }, tenant, { "Idempotency-Key": "over" });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ deliveries_scheduled: 1000, replayed: false });
    expect(queue.refs()).toHaveLength(1000);
  });

  it("counts only active, live webhooks subscribed to the event's type", async () => {
    const tenant = await createTenant();
    const url = receiver.url(uniqueKey());
    const limit = { MAX_FANOUT_PER_EVENT: "2" };
    await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.created", "query.resolved"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.resolved"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.created"], is_active: false }));
    await deleteWebhook(tenant, (await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }))).id);

    const res = await publishWith(limit, tenant);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ deliveries_scheduled: 2 });

    await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }));
    const refused = await publishWith(limit, tenant);
    expect((await expectError(refused, 403, "quota_exceeded")).message).toContain("at most 2 subscribed active webhooks");
    expect(await storedEventCount(tenant.id)).toBe(1);
  });

  it("refuses a query change whose event would go over it, and keeps the query unchanged", async () => {
    const tenant = await createTenant();
    const url = receiver.url(uniqueKey());
    const limit = { MAX_FANOUT_PER_EVENT: "1" };
    await createWebhook(tenant, webhookBody({ url, events: ["query.created", "query.resolved"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.resolved"] }));
    const queries = (path: string, json: unknown) => apiWithEnv(limit, path, { method: "POST", key: tenant.key, json });

    const created = await queries("/api/v1/queries", { user_id: "user_456", query: "How do I export my data?" });
    expect(created.status).toBe(201);
    const query = (await created.json()) as { id: string; status: string };

    const refused = await queries(`/api/v1/queries/${query.id}/resolve`, { response: "Use the export button." });

    await expectError(refused, 403, "quota_exceeded");
    const after = await api(`/api/v1/queries/${query.id}`, { key: tenant.key });
    expect(await after.json()).toMatchObject({ id: query.id, status: "open" });
    expect(await storedEventCount(tenant.id)).toBe(1); // query.created only
  });

  it("refuses a new query whose query.created would go over it, storing no query", async () => {
    const tenant = await createTenant();
    const url = receiver.url(uniqueKey());
    await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }));
    await createWebhook(tenant, webhookBody({ url, events: ["query.created"] }));

    const res = await apiWithEnv({ MAX_FANOUT_PER_EVENT: "1" }, "/api/v1/queries", {
      method: "POST",
      key: tenant.key,
      json: { user_id: "user_456", query: "How do I export my data?" },
    });

    await expectError(res, 403, "quota_exceeded");
    const list = await api("/api/v1/queries", { key: tenant.key });
    expect(await list.json()).toEqual([]);
    expect(await storedEventCount(tenant.id)).toBe(0);
  });
});
