import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  api,
  createTenant,
  createWebhook,
  expectError,
  GUIDE_TIMESTAMP,
  storedWebhook,
  type Tenant,
  UUID,
  type WebhookCreated,
  type WebhookView,
  webhookBody,
} from "../helpers/harness";

const VIEW_FIELDS = [
  "consecutive_failures",
  "created_at",
  "delivery_count",
  "description",
  "disabled_at",
  "disabled_reason",
  "events",
  "failure_count",
  "id",
  "is_active",
  "last_delivery_at",
  "last_success_at",
  "rate_limit_per_second",
  "retry_schedule_seconds",
  "updated_at",
  "url",
];

/** The deployment's schedule in these tests: the guide's 3 attempts, 1 s then 2 s apart. */
const DEFAULT_SCHEDULE = [1, 2];
const SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

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
      retry_schedule_seconds: DEFAULT_SCHEDULE,
      rate_limit_per_second: null,
      consecutive_failures: 0,
      last_delivery_at: null,
      last_success_at: null,
      disabled_at: null,
      disabled_reason: null,
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

  it("accepts its own retry schedule and rate limit, stored and shown as given", async () => {
    const tenant = await createTenant();
    const body = await createWebhook(tenant, webhookBody({ retry_schedule_seconds: SCHEDULE, rate_limit_per_second: 25 }));
    expect(body).toMatchObject({ retry_schedule_seconds: SCHEDULE, rate_limit_per_second: 25 });
    expect(await storedWebhook(body.id)).toMatchObject({ retry_schedule: JSON.stringify(SCHEDULE), rate_limit_per_second: 25 });
  });

  it("accepts the schedule bounds: 20 waits, 1 and 86,400 s, 7 days in all; [] (one attempt); null and the rate bounds 1 and 1000", async () => {
    const tenant = await createTenant();
    const week = [86_400, 86_400, 86_400, 86_400, 86_400, 86_400, 86_400];
    const cases: [unknown, number[]][] = [
      [Array(20).fill(1), Array(20).fill(1)],
      [week, week],
      [[1], [1]],
      [[], []],
      [null, DEFAULT_SCHEDULE],
    ];
    for (const [given, shown] of cases) {
      expect((await createWebhook(tenant, webhookBody({ retry_schedule_seconds: given }))).retry_schedule_seconds).toEqual(shown);
    }
    for (const rate of [1, 1000, null]) {
      expect((await createWebhook(tenant, webhookBody({ rate_limit_per_second: rate }))).rate_limit_per_second).toBe(rate);
    }
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
      await env.DB.prepare("UPDATE webhooks SET created_at = ? WHERE id = ?")
        .bind(Date.UTC(2024, 10, 24, 12, 0, i), id)
        .run();
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

  it("sets a retry schedule and rate limit; null restores the default schedule and removes the limit", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant);
    const put = async (json: object) => {
      const res = await api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json });
      expect(res.status).toBe(200);
      return (await res.json()) as WebhookView;
    };

    expect(await put({ retry_schedule_seconds: SCHEDULE, rate_limit_per_second: 5 })).toMatchObject({
      retry_schedule_seconds: SCHEDULE,
      rate_limit_per_second: 5,
    });
    // Omitted fields are kept.
    expect(await put({ description: "kept" })).toMatchObject({ retry_schedule_seconds: SCHEDULE, rate_limit_per_second: 5 });
    const listed = (await (await api("/api/v1/webhooks", { key: tenant.key })).json()) as WebhookView[];
    expect(listed[0]).toMatchObject({ retry_schedule_seconds: SCHEDULE, rate_limit_per_second: 5 });

    expect(await put({ retry_schedule_seconds: null, rate_limit_per_second: null })).toMatchObject({
      retry_schedule_seconds: DEFAULT_SCHEDULE,
      rate_limit_per_second: null,
    });
    expect(await storedWebhook(created.id)).toMatchObject({ retry_schedule: null, rate_limit_per_second: null });
  });

  it("shows the endpoint's health; is_active: true re-enables a webhook the platform disabled", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant);
    const [failingSince, lastDelivery, lastSuccess, disabledAt] = [0, 1, 2, 3].map((s) => Date.UTC(2024, 10, 24, 12, 0, s));
    await env.DB.prepare(
      `UPDATE webhooks SET is_active = 0, consecutive_failures = 50, failing_since = ?, last_delivery_at = ?, last_success_at = ?,
         disabled_at = ?, disabled_reason = 'failing for 5 days' WHERE id = ?`,
    )
      .bind(failingSince, lastDelivery, lastSuccess, disabledAt, created.id)
      .run();
    const disabled = {
      is_active: false,
      consecutive_failures: 50,
      last_delivery_at: "2024-11-24T12:00:01Z",
      last_success_at: "2024-11-24T12:00:02Z",
      disabled_at: "2024-11-24T12:00:03Z",
      disabled_reason: "failing for 5 days",
    };
    expect(await (await api(`/api/v1/webhooks/${created.id}`, { key: tenant.key })).json()).toMatchObject(disabled);

    // Another change leaves the disabled state alone.
    const renamed = await api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json: { description: "fixed" } });
    expect(await renamed.json()).toMatchObject(disabled);

    const res = await api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json: { is_active: true } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      is_active: true,
      consecutive_failures: 0,
      disabled_at: null,
      disabled_reason: null,
      // History stays.
      last_delivery_at: "2024-11-24T12:00:01Z",
      last_success_at: "2024-11-24T12:00:02Z",
    });
    expect(await storedWebhook(created.id)).toMatchObject({ failing_since: null, consecutive_failures: 0, disabled_at: null });
  });

  it("is_active: true on an active webhook keeps its failure streak (only a re-enable resets it)", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant);
    const failingSince = Date.UTC(2024, 10, 24, 12, 0, 0);
    await env.DB.prepare("UPDATE webhooks SET consecutive_failures = 7, failing_since = ? WHERE id = ?").bind(failingSince, created.id).run();

    const res = await api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json: { is_active: true, description: "x" } });
    expect(await res.json()).toMatchObject({ is_active: true, consecutive_failures: 7, description: "x" });
    expect(await storedWebhook(created.id)).toMatchObject({ consecutive_failures: 7, failing_since: failingSince });
  });

  it("bumps updated_at and keeps created_at", async () => {
    const tenant = await createTenant();
    const created = await createWebhook(tenant);
    // As if created a minute ago: the API shows whole seconds, so an update within the same second would look unchanged.
    await env.DB.prepare("UPDATE webhooks SET created_at = created_at - 60000, updated_at = updated_at - 60000 WHERE id = ?").bind(created.id).run();
    const before = (await (await api(`/api/v1/webhooks/${created.id}`, { key: tenant.key })).json()) as WebhookView;

    const res = await api(`/api/v1/webhooks/${created.id}`, { method: "PUT", key: tenant.key, json: { description: "x" } });
    const body = (await res.json()) as WebhookView;
    expect(body.created_at).toBe(before.created_at);
    expect(body.updated_at).toMatch(GUIDE_TIMESTAMP);
    expect(body.updated_at > before.updated_at).toBe(true);
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
