import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "../../src/delivery/job";
import type { TenantSummary as AdminTenant } from "../../src/services/tenants";
import {
  consume,
  eventually,
  exampleData,
  finishedDelivery,
  insertDelivery,
  job,
  makeDue,
  type Published,
  receiverWebhook,
  staysAt,
  storedDelivery,
  worker,
} from "../helpers/delivery";
import {
  ADMIN_TOKEN,
  api,
  apiWithEnv,
  createTenant,
  createWebhook,
  expectError,
  GUIDE_TIMESTAMP,
  receiver,
  type Tenant,
  UUID,
  uniqueKey,
  webhookBody,
} from "../helpers/harness";

const PATH = "/api/v1/admin/tenants";

async function tenantCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM tenants").first<{ n: number }>())?.n ?? 0;
}

/** Sends a request that must be refused and asserts it created no tenant. */
async function withoutNewTenants(request: () => Promise<Response>): Promise<Response> {
  const before = await tenantCount();
  const res = await request();
  expect(await tenantCount()).toBe(before);
  return res;
}

describe("POST /api/v1/admin/tenants", () => {
  it("creates a tenant and its first API key with the admin token", async () => {
    const res = await api(PATH, { method: "POST", key: ADMIN_TOKEN, json: { name: "Acme HR" } });

    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; name: string; api_key: string; created_at: string };
    expect(Object.keys(body).sort()).toEqual(["api_key", "created_at", "id", "name"]);
    expect(body.id).toMatch(UUID);
    expect(body.name).toBe("Acme HR");
    expect(body.api_key).toMatch(/^hrk_[A-Za-z0-9_-]{43,}$/);
    expect(body.created_at).toMatch(GUIDE_TIMESTAMP);

    const list = await api("/api/v1/webhooks", { key: body.api_key });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([]);
  });

  it.each([
    ["missing", {}],
    ["wrong", { Authorization: "Bearer not-the-admin-token" }],
    ["a prefix of the right one", { Authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
    ["not Bearer", { Authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` }],
  ])("refuses an admin token that is %s with 401", async (_case, headers) => {
    const res = await withoutNewTenants(() => api(PATH, { method: "POST", headers, json: { name: "Acme HR" } }));
    await expectError(res, 401, "unauthorized");
  });

  it.each([
    ["unset", { ADMIN_TOKEN: undefined }],
    ["empty", { ADMIN_TOKEN: "" }],
  ])("stays closed when ADMIN_TOKEN is %s", async (_case, overrides) => {
    for (const key of [ADMIN_TOKEN, "", "undefined"]) {
      const res = await withoutNewTenants(() => apiWithEnv(overrides, PATH, { method: "POST", key, json: { name: "Acme HR" } }));
      await expectError(res, 401, "unauthorized");
    }
  });

  it.each([
    ["no name", {}],
    ["an empty name", { name: "" }],
    ["a blank name", { name: "  " }],
    ["a name over 200 characters", { name: "n".repeat(201) }],
    ["a name that is not a string", { name: 42 }],
  ])("refuses %s with 422 validation_failed", async (_case, json) => {
    const res = await withoutNewTenants(() => api(PATH, { method: "POST", key: ADMIN_TOKEN, json }));
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual(["name"]);
  });

  it("refuses malformed JSON with 400 invalid_json", async () => {
    const res = await withoutNewTenants(() =>
      api(PATH, { method: "POST", key: ADMIN_TOKEN, body: '{"name":', headers: { "Content-Type": "application/json" } }),
    );
    await expectError(res, 400, "invalid_json");
  });

  it("checks the token before the body", async () => {
    const res = await api(PATH, { method: "POST", body: "{", headers: { "Content-Type": "application/json" } });
    await expectError(res, 401, "unauthorized");
  });
});

const admin = (path: string, init: Parameters<typeof api>[1] = {}) => api(`${PATH}${path}`, { key: ADMIN_TOKEN, ...init });
const disable = (tenant: { id: string }) => admin(`/${tenant.id}/disable`, { method: "POST" });
const enable = (tenant: { id: string }) => admin(`/${tenant.id}/enable`, { method: "POST" });

async function listTenants(query = ""): Promise<{ tenants: AdminTenant[]; total: string | null }> {
  const res = await admin(query);
  expect(res.status).toBe(200);
  return { tenants: (await res.json()) as AdminTenant[], total: res.headers.get("X-Total-Count") };
}

const UNKNOWN = "00000000-0000-4000-8000-000000000000";

describe("GET /api/v1/admin/tenants", () => {
  it("lists tenants with their live webhooks, live API keys and events", async () => {
    const tenant = await createTenant("Counted");
    const kept = await createWebhook(tenant, webhookBody({ events: ["query.resolved"] }));
    await createWebhook(tenant, webhookBody({ events: ["query.resolved"], is_active: false }));
    const deleted = await createWebhook(tenant, webhookBody({ events: ["query.resolved"] }));
    expect((await api(`/api/v1/webhooks/${deleted.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    const extra = (await (await api("/api/v1/api-keys", { method: "POST", key: tenant.key })).json()) as { id: string };
    await api("/api/v1/api-keys", { method: "POST", key: tenant.key });
    expect((await api(`/api/v1/api-keys/${extra.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    for (let i = 0; i < 2; i++) {
      // No webhook is subscribed to query.created: stored events, no deliveries.
      const res = await api("/api/v1/events", { method: "POST", key: tenant.key, json: { event: "query.created", data: exampleData("query.created") } });
      expect(((await res.json()) as Published).deliveries_scheduled).toBe(0);
    }

    const { tenants } = await listTenants();

    const listed = tenants.find((t) => t.id === tenant.id);
    expect(listed).toEqual({
      id: tenant.id,
      name: "Counted",
      created_at: expect.stringMatching(GUIDE_TIMESTAMP),
      disabled_at: null,
      webhook_count: 2,
      live_api_key_count: 2,
      event_count: 2,
    });
    expect(kept.id).toMatch(UUID);
  });

  it("pages newest first with skip and limit, the total in X-Total-Count", async () => {
    await createTenant();
    await createTenant();
    const stored = (await env.DB.prepare("SELECT COUNT(*) AS n FROM tenants").first<{ n: number }>())!.n;

    const all = await listTenants("?limit=100");
    const first = await listTenants("?limit=2");
    const second = await listTenants("?skip=2&limit=2");

    expect([all.total, first.total, second.total]).toEqual([String(stored), String(stored), String(stored)]);
    expect(all.tenants).toHaveLength(Math.min(stored, 100));
    expect(first.tenants.map((t) => t.id)).toEqual(all.tenants.slice(0, 2).map((t) => t.id));
    expect(second.tenants.map((t) => t.id)).toEqual(all.tenants.slice(2, 4).map((t) => t.id));
    const created = all.tenants.map((t) => t.created_at);
    expect(created).toEqual([...created].sort().reverse());
  });

  it.each([["limit=0"], ["limit=101"], ["skip=-1"], ["limit=x"]])("refuses %s with 422", async (query) => {
    await expectError(await admin(`?${query}`), 422, "validation_failed");
  });

  it("needs the admin token: none, a wrong one or a tenant's API key get 401", async () => {
    const tenant = await createTenant();
    for (const key of [undefined, "not-the-admin-token", tenant.key]) await expectError(await api(PATH, { key }), 401, "unauthorized");
  });
});

describe("POST /api/v1/admin/tenants/{id}/disable and /enable", () => {
  it("a disabled tenant's keys get 401 saying so; enabled again, they work", async () => {
    const tenant = await createTenant();

    const res = await disable(tenant);
    expect(res.status).toBe(200);
    const disabled = (await res.json()) as AdminTenant;
    expect(disabled).toMatchObject({ id: tenant.id, disabled_at: expect.stringMatching(GUIDE_TIMESTAMP), live_api_key_count: 1 });

    const refused = await expectError(await api("/api/v1/webhooks", { key: tenant.key }), 401, "unauthorized");
    expect(refused.message).toBe("The tenant of this API key is disabled; ask the operator to enable it");
    await expectError(
      await api("/api/v1/events", { method: "POST", key: tenant.key, json: { event: "query.created", data: exampleData("query.created") } }),
      401,
      "unauthorized",
    );
    expect((await listTenants()).tenants.find((t) => t.id === tenant.id)?.disabled_at).toBe(disabled.disabled_at);

    const again = (await (await disable(tenant)).json()) as AdminTenant;
    expect(again.disabled_at).toBe(disabled.disabled_at); // disabling twice keeps the first time

    const enabled = await enable(tenant);
    expect(enabled.status).toBe(200);
    expect(await enabled.json()).toMatchObject({ id: tenant.id, disabled_at: null });
    expect((await api("/api/v1/webhooks", { key: tenant.key })).status).toBe(200);
  });

  it("leaves other tenants alone", async () => {
    const [tenant, other] = [await createTenant(), await createTenant()];
    expect((await disable(tenant)).status).toBe(200);
    expect((await api("/api/v1/webhooks", { key: other.key })).status).toBe(200);
  });

  it.each([["disable"], ["enable"]])("%s answers 404 for an unknown tenant or a non-UUID, and 401 without the admin token", async (action) => {
    for (const id of [UNKNOWN, "not-a-uuid"]) await expectError(await admin(`/${id}/${action}`, { method: "POST" }), 404, "not_found");
    const tenant = await createTenant();
    await expectError(await api(`${PATH}/${tenant.id}/${action}`, { method: "POST", key: tenant.key }), 401, "unauthorized");
  });
});

describe("a disabled tenant's deliveries wait", () => {
  it("are not attempted while it is disabled: each job is sent on a minute later, and delivered once it is enabled", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200");
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { nextAttemptAt: Date.now() - 1000 });
    expect((await disable(tenant)).status).toBe(200);

    const waiting = await consume([job(webhook.id, deliveryId)]);

    expect(waiting.explicitAcks).toEqual(["msg-1"]);
    expect(waiting.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 0 }, delaySeconds: 60 }]);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "pending", attempts: 0, finished_at: null });
    expect(await receiver.requests(key)).toEqual([]);

    // The row waits with its job (a minute is half the sweep's grace): due when the job comes back,
    // so the sweep does not send a second one.
    expect((await storedDelivery(deliveryId))!.next_attempt_at).toBeGreaterThan(Date.now() + 55_000);

    expect((await enable(tenant)).status).toBe(200);
    await makeDue(deliveryId); // the minute has passed and the job is back
    const sentOn: DeliveryJob[] = waiting.sent.map((s) => ({ deliveries: [s.ref] }));
    const delivered = await consume(sentOn);

    expect(delivered.sent).toEqual([]);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "success", attempts: 1 });
    expect(await receiver.requests(key)).toHaveLength(1);
  });

  it("end to end: the queue's job and the sweep leave it pending while disabled; enabled, the next job delivers it", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200");
    const due = Date.now() - 10 * 60_000; // long past due: the sweep's to re-enqueue, were the tenant enabled
    const { deliveryId } = await insertDelivery(tenant, webhook.id, { nextAttemptAt: due });
    expect((await disable(tenant)).status).toBe(200);
    const sweep = async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
      await waitOnExecutionContext(ctx);
    };

    await env.DELIVERY_QUEUE.send(job(webhook.id, deliveryId));
    await sweep();
    // Not claimed by the sweep (which would have made it due now): its job, once consumed, postponed
    // it a minute, to when that job comes back; and it was not attempted, nor failed.
    const waiting = await eventually(async () => {
      const row = (await storedDelivery(deliveryId))!;
      return (row.next_attempt_at as number) > Date.now() + 55_000 ? row : null;
    });
    expect(waiting).toMatchObject({ status: "pending", attempts: 0 });
    expect(await receiver.requests(key)).toHaveLength(0);

    expect((await enable(tenant)).status).toBe(200);
    await sweep();
    await staysAt(key, 0, Date.now() + 500); // the sweep sends nothing: the job is not lost
    await makeDue(deliveryId); // the minute has passed and the job is back
    await env.DELIVERY_QUEUE.send(job(webhook.id, deliveryId));

    expect(await finishedDelivery(tenant, webhook.id)).toMatchObject({ id: deliveryId, status: "success", attempts: 1, last_status_code: 200 });
    expect(await receiver.requests(key)).toHaveLength(1);
  });
});

describe("POST /api/v1/admin/tenants/{id}/api-keys", () => {
  const issue = (tenantId: string, json?: unknown) => admin(`/${tenantId}/api-keys`, { method: "POST", json });

  it("issues a key for the tenant (201, shown once), usable at once and listed by the tenant", async () => {
    const tenant = await createTenant();
    const res = await issue(tenant.id, { name: "recovery" });

    expect(res.status).toBe(201);
    const issued = (await res.json()) as { id: string; name: string; api_key: string; prefix: string; created_at: string };
    expect(Object.keys(issued).sort()).toEqual(["api_key", "created_at", "id", "name", "prefix"]);
    expect(issued).toMatchObject({ id: expect.stringMatching(UUID), name: "recovery", prefix: issued.api_key.slice(0, 10) });
    const list = await api("/api/v1/api-keys", { key: issued.api_key });
    expect(list.headers.get("X-Total-Count")).toBe("2");
    expect(((await list.json()) as { id: string }[]).map((k) => k.id)).toContain(issued.id);
  });

  it("takes no body (an unnamed key), and refuses an invalid name with 422", async () => {
    const tenant = await createTenant();
    const res = await issue(tenant.id);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string | null }).name).toBeNull();
    await expectError(await issue(tenant.id, { name: "" }), 422, "validation_failed");
    // Read by the API's one JSON body reader, as every other route.
    const repeated = await admin(`/${tenant.id}/api-keys`, {
      method: "POST",
      body: '{"name":"a","name":"b"}',
      headers: { "Content-Type": "application/json" },
    });
    await expectError(repeated, 400, "invalid_json");
  });

  it("a disabled tenant's new key is refused like its others until the tenant is enabled", async () => {
    const tenant = await createTenant();
    await disable(tenant);
    const issued = (await (await issue(tenant.id)).json()) as { api_key: string };
    await expectError(await api("/api/v1/webhooks", { key: issued.api_key }), 401, "unauthorized");
    await enable(tenant);
    expect((await api("/api/v1/webhooks", { key: issued.api_key })).status).toBe(200);
  });

  it("answers 404 for an unknown tenant or a non-UUID, and 401 to a tenant's key", async () => {
    for (const id of [UNKNOWN, "not-a-uuid"]) await expectError(await issue(id), 404, "not_found");
    const tenant: Tenant = await createTenant();
    await expectError(await api(`${PATH}/${tenant.id}/api-keys`, { method: "POST", key: tenant.key }), 401, "unauthorized");
  });
});
