import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  api,
  createTenant,
  createWebhook,
  expectError,
  GUIDE_TIMESTAMP,
  UUID,
  webhookBody,
  type Tenant,
  type WebhookCreated,
  type WebhookView,
} from "../helpers/harness";

const VIEW_FIELDS = [
  "created_at",
  "delivery_count",
  "description",
  "events",
  "failure_count",
  "id",
  "is_active",
  "updated_at",
  "url",
];

/** What GET answers for a freshly created webhook: the creation response without its secret. */
const viewOf = ({ secret_key: _secret, ...view }: WebhookCreated): WebhookView => view;

async function listWebhooks(tenant: Tenant, query = "") {
  const res = await api(`/api/v1/webhooks${query}`, { key: tenant.key });
  expect(res.status).toBe(200);
  return { items: (await res.json()) as WebhookView[], total: Number(res.headers.get("X-Total-Count")) };
}

describe("POST /api/v1/webhooks", () => {
  it("registers a webhook and answers the guide's fields with the secret_key", async () => {
    const tenant = await createTenant();
    const res = await api("/api/v1/webhooks", {
      method: "POST",
      key: tenant.key,
      json: { url: "https://your-domain.com/webhook/smartsupport", events: ["query.created", "query.escalated"] },
    });

    expect(res.status).toBe(201);
    const body = (await res.json()) as WebhookCreated;
    expect(Object.keys(body).sort()).toEqual([...VIEW_FIELDS, "secret_key"].sort());
    expect(body).toMatchObject({
      url: "https://your-domain.com/webhook/smartsupport",
      events: ["query.created", "query.escalated"],
      description: null,
      is_active: true,
      delivery_count: 0,
      failure_count: 0,
    });
    expect(body.id).toMatch(UUID);
    // wsk_live_ + base64url of at least 32 random bytes (43 characters, unpadded).
    expect(body.secret_key).toMatch(/^wsk_live_[A-Za-z0-9_-]{43,}$/);
    expect(body.created_at).toMatch(GUIDE_TIMESTAMP);
    expect(body.updated_at).toBe(body.created_at);
  });

  it("accepts every event type, a description and is_active=false", async () => {
    const tenant = await createTenant();
    const events = ["query.created", "query.resolved", "query.escalated", "feedback.received"];
    const body = await createWebhook(tenant, webhookBody({ events, description: "CRM sync", is_active: false }));
    expect(body).toMatchObject({ events, description: "CRM sync", is_active: false });
  });

  it("accepts a URL of exactly 2048 characters, stored without surrounding spaces", async () => {
    const tenant = await createTenant();
    const url = `https://hooks.example.com/${"a".repeat(2048 - "https://hooks.example.com/".length)}`;
    expect(url).toHaveLength(2048);
    const body = await createWebhook(tenant, webhookBody({ url: `  ${url}  ` }));
    expect(body.url).toBe(url);
  });

  it("gives every webhook its own id and secret", async () => {
    const tenant = await createTenant();
    const [a, b] = [await createWebhook(tenant), await createWebhook(tenant)];
    expect(a.id).not.toBe(b.id);
    expect(a.secret_key).not.toBe(b.secret_key);
  });
});

describe("GET /api/v1/webhooks/{id}", () => {
  it("answers the webhook as created, without secret_key", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant, webhookBody({ description: "escalations" }));

    const res = await api(`/api/v1/webhooks/${created.id}`, { key: tenant.key });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(viewOf(created));
  });
});

describe("GET /api/v1/webhooks", () => {
  it("answers a bare array and X-Total-Count, empty for a new tenant", async () => {
    const tenant = await createTenant();
    expect(await listWebhooks(tenant)).toEqual({ items: [], total: 0 });

    const created = await createWebhook(tenant);
    expect(await listWebhooks(tenant)).toEqual({ items: [viewOf(created)], total: 1 });
  });

  it("pages with skip and limit, newest first, and counts all matches", async () => {
    const tenant = await createTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createWebhook(tenant)).id);
    // Spread creation times a second apart so "newest first" is observable: ids[4] is the newest.
    for (const [i, id] of ids.entries()) {
      await env.DB.prepare("UPDATE webhooks SET created_at = ? WHERE id = ?").bind(Date.UTC(2024, 10, 24, 12, 0, i), id).run();
    }
    const newestFirst = [...ids].reverse();

    const first = await listWebhooks(tenant, "?skip=0&limit=2");
    const second = await listWebhooks(tenant, "?skip=2&limit=2");
    const last = await listWebhooks(tenant, "?skip=4&limit=2");
    expect(first.items.map((w) => w.id)).toEqual(newestFirst.slice(0, 2));
    expect(second.items.map((w) => w.id)).toEqual(newestFirst.slice(2, 4));
    expect(last.items.map((w) => w.id)).toEqual(newestFirst.slice(4));
    expect([first.total, second.total, last.total]).toEqual([5, 5, 5]);
    expect(first.items[0].created_at).toBe("2024-11-24T12:00:04Z");

    expect(await listWebhooks(tenant, "?skip=10")).toEqual({ items: [], total: 5 });
  });

  it("accepts the limit bounds 1 and 100", async () => {
    const tenant = await createTenant();
    await createWebhook(tenant);
    await createWebhook(tenant);
    expect((await listWebhooks(tenant, "?limit=1")).items).toHaveLength(1);
    expect((await listWebhooks(tenant, "?limit=100")).items).toHaveLength(2);
  });

  it("filters on is_active", async () => {
    const tenant = await createTenant();
    const active = await createWebhook(tenant);
    const inactive = await createWebhook(tenant, webhookBody({ is_active: false }));

    const onlyActive = await listWebhooks(tenant, "?skip=0&limit=100&is_active=true");
    expect(onlyActive.items.map((w) => w.id)).toEqual([active.id]);
    expect(onlyActive.total).toBe(1);
    const onlyInactive = await listWebhooks(tenant, "?is_active=false");
    expect(onlyInactive.items.map((w) => w.id)).toEqual([inactive.id]);
    expect(onlyInactive.total).toBe(1);
    expect((await listWebhooks(tenant)).total).toBe(2);
  });
});

describe("PUT /api/v1/webhooks/{id}", () => {
  it("changes each of url, events, description and is_active, keeping the other fields", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant, webhookBody({ description: "before" }));
    const put = (json: object) => api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json });

    const changes = [
      { url: "https://other.example.com/hook" },
      { events: ["feedback.received"] },
      { description: "after" },
      { description: null },
      { is_active: false },
      { is_active: true },
    ];
    let expected = viewOf(created);
    for (const change of changes) {
      const res = await put(change);
      expect(res.status).toBe(200);
      const body = (await res.json()) as WebhookView;
      expected = { ...expected, ...change, updated_at: body.updated_at };
      expect(body).toEqual(expected);
    }
    const fetched = await api(`/api/v1/webhooks/${created.id}`, { key: tenant.key });
    expect(await fetched.json()).toEqual(expected);
  });

  it("bumps updated_at and keeps created_at", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // timestamps have one-second precision

    const res = await api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json: { description: "x" } });
    const body = (await res.json()) as WebhookView;
    expect(body.created_at).toBe(created.created_at);
    expect(body.updated_at).toMatch(GUIDE_TIMESTAMP);
    expect(body.updated_at > created.updated_at).toBe(true);
  });
});

describe("DELETE /api/v1/webhooks/{id}", () => {
  it("answers 204, then the webhook is gone from every route", async () => {
    const tenant = await createTenant();
    const kept = await createWebhook(tenant);
    const deleted = await createWebhook(tenant);

    const res = await api(`/api/v1/webhooks/${deleted.id}`, { method: "DELETE", key: tenant.key });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    const path = `/api/v1/webhooks/${deleted.id}`;
    await expectError(await api(path, { key: tenant.key }), 404, "not_found");
    await expectError(await api(path, { method: "PUT", key: tenant.key, json: { is_active: true } }), 404, "not_found");
    await expectError(await api(path, { method: "DELETE", key: tenant.key }), 404, "not_found");
    const list = await listWebhooks(tenant);
    expect(list.items.map((w) => w.id)).toEqual([kept.id]);
    expect(list.total).toBe(1);
  });
});

describe("GET /api/v1/health", () => {
  it("answers without authentication", async () => {
    const res = await api("/api/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", environment: "development" });
  });
});
