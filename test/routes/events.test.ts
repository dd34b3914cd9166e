import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { DeliveryJob } from "../../src/delivery/job";
import { MAX_REDELIVERIES_PER_EVENT } from "../../src/services/events";
import { type DeliveryDetail, eventually, exampleData, published, receivedAtLeast, receiverWebhook, worker } from "../helpers/delivery";
import { api, apiWithEnv, createTenant, createWebhook, expectError, receiver, type Tenant, uniqueKey, webhookBody } from "../helpers/harness";

interface EventView {
  id: string;
  event: string;
  data: Record<string, unknown>;
  query_id: string | null;
  deliveries_scheduled: number;
  created_at: string;
  redelivered_at: string[];
}
interface EventDetail extends EventView {
  deliveries: DeliveryDetail[];
}
interface Redelivered {
  event_id: string;
  event: string;
  deliveries_scheduled: number;
  deliveries: { id: string; webhook_id: string }[];
  enqueued: boolean;
}

async function eventDetail(tenant: Tenant, id: string): Promise<EventDetail> {
  const res = await api(`/api/v1/events/${id}`, { key: tenant.key });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as EventDetail;
}

const redeliver = (tenant: Tenant, id: string, body?: unknown) =>
  api(`/api/v1/events/${id}/redeliver`, { method: "POST", key: tenant.key, ...(body === undefined ? {} : { json: body }) });

async function redelivered(tenant: Tenant, id: string, body?: unknown): Promise<Redelivered> {
  const res = await redeliver(tenant, id, body);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return JSON.parse(text) as Redelivered;
}

/** The event's detail once none of its deliveries is pending. */
const settled = (tenant: Tenant, id: string, deliveries: number) =>
  eventually(async () => {
    const detail = await eventDetail(tenant, id);
    return detail.deliveries.length === deliveries && detail.deliveries.every((d) => d.status !== "pending") ? detail : null;
  });

describe("GET /api/v1/events/{id}", () => {
  it("returns the event with its data and, per webhook, its delivery's status and attempts", async () => {
    const tenant = await createTenant();
    const [ok, failing] = [uniqueKey("ok"), uniqueKey("fail")];
    const good = await receiverWebhook(tenant, ok);
    const bad = await receiverWebhook(tenant, failing, "400");
    const event = await published(tenant, "query.created");

    const detail = await settled(tenant, event.event_id, 2);
    expect(detail).toMatchObject({
      id: event.event_id,
      event: "query.created",
      data: exampleData("query.created"),
      query_id: null,
      deliveries_scheduled: 2,
      created_at: event.created_at,
      redelivered_at: [],
    });
    const byWebhook = Object.fromEntries(detail.deliveries.map((d) => [d.webhook_id, d]));
    expect(byWebhook[good.id]).toMatchObject({ event_id: event.event_id, status: "success", attempts: 1, last_status_code: 200 });
    expect(byWebhook[bad.id]).toMatchObject({ event_id: event.event_id, status: "failed", attempts: 1, last_status_code: 400 });
    expect(byWebhook[bad.id].attempt_log).toEqual([expect.objectContaining({ attempt: 1, status_code: 400, error: "HTTP 400" })]);
  });

  it("answers 404 for another tenant's event and for ids that cannot exist", async () => {
    const owner = await createTenant();
    const other = await createTenant();
    const event = await published(owner, "query.created");
    await expectError(await api(`/api/v1/events/${event.event_id}`, { key: other.key }), 404, "not_found");
    await expectError(await api(`/api/v1/events/not-a-uuid`, { key: owner.key }), 404, "not_found");
    await expectError(await api(`/api/v1/events/${crypto.randomUUID()}`, { key: owner.key }), 404, "not_found");
    await expectError(await redeliver(other, event.event_id), 404, "not_found");
    await expectError(await api(`/api/v1/events/${event.event_id}`), 401, "unauthorized");
  });
});

describe("GET /api/v1/events", () => {
  it("lists the tenant's events newest first, filtered by type and time, with X-Total-Count; never another tenant's", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await published(other, "query.created");
    const first = await published(tenant, "query.created");
    const second = await published(tenant, "query.escalated");
    const third = await published(tenant, "query.created");

    const list = async (query = "") => {
      const res = await api(`/api/v1/events${query}`, { key: tenant.key });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      return { ids: (JSON.parse(text) as EventView[]).map((e) => e.id), total: res.headers.get("X-Total-Count") };
    };
    expect(await list()).toEqual({ ids: [third.event_id, second.event_id, first.event_id], total: "3" });
    expect(await list("?event=query.created")).toEqual({ ids: [third.event_id, first.event_id], total: "2" });
    expect(await list("?skip=1&limit=1")).toEqual({ ids: [second.event_id], total: "3" });
    // since/until: [since, until) on the creation time.
    // created_at is rendered to the second; the id's first 48 bits are its millisecond (UUIDv7).
    const ms = (e: { event_id: string }) => parseInt(e.event_id.slice(0, 8) + e.event_id.slice(9, 13), 16);
    const secondOn = new Date(ms(second)).toISOString();
    expect(ms(second)).toBeGreaterThan(ms(first));
    const afterSecond = new Date(ms(second) + 1).toISOString();
    const firstIds = (await list(`?until=${secondOn}`)).ids;
    expect(firstIds).toContain(first.event_id);
    expect(firstIds).not.toContain(second.event_id);
    expect((await list(`?since=${secondOn}`)).ids).toEqual(expect.arrayContaining([second.event_id, third.event_id]));
    expect((await list(`?since=${secondOn}&until=${afterSecond}`)).ids).toContain(second.event_id);
    expect((await list(`?since=${afterSecond}`)).ids).not.toContain(second.event_id);

    await expectError(await api("/api/v1/events?since=yesterday", { key: tenant.key }), 422, "validation_failed");
    await expectError(await api(`/api/v1/events?before=${first.event_id}&after=${first.event_id}`, { key: tenant.key }), 422, "validation_failed");
    await expectError(await api("/api/v1/events?limit=101", { key: tenant.key }), 422, "validation_failed");
  });
});

describe("POST /api/v1/events/{id}/redeliver", () => {
  it("sends the event again through the queue to the named webhook, as a new delivery", async () => {
    const tenant = await createTenant();
    const [a, b] = [uniqueKey("a"), uniqueKey("b")];
    const webhookA = await receiverWebhook(tenant, a);
    const webhookB = await receiverWebhook(tenant, b);
    const event = await published(tenant, "query.created");
    await settled(tenant, event.event_id, 2);

    const result = await redelivered(tenant, event.event_id, { webhook_ids: [webhookA.id] });
    expect(result).toEqual({
      event_id: event.event_id,
      event: "query.created",
      deliveries_scheduled: 1,
      deliveries: [{ id: expect.any(String), webhook_id: webhookA.id }],
      enqueued: true,
    });
    const [original, again] = await receivedAtLeast(a, 2);
    // Same event, same body, but a new delivery id (the receiver's idempotency key).
    expect(again.body).toBe(original.body);
    expect(again.headers["webhook-id"]).toBe(result.deliveries[0].id);
    expect(again.headers["webhook-id"]).not.toBe(original.headers["webhook-id"]);
    expect(await receiver.requests(b)).toHaveLength(1);

    const detail = await settled(tenant, event.event_id, 3);
    expect(detail.redelivered_at).toHaveLength(1);
    expect(detail.deliveries.filter((d) => d.webhook_id === webhookA.id).map((d) => [d.status, d.attempts])).toEqual([
      ["success", 1],
      ["success", 1],
    ]);
    expect(detail.deliveries.filter((d) => d.webhook_id === webhookB.id)).toHaveLength(1);
    expect(detail.deliveries.at(-1)).toMatchObject({ id: result.deliveries[0].id, webhook_id: webhookA.id });
  });

  it("by default sends to every active webhook subscribed now (one added since included, an inactive one not)", async () => {
    const tenant = await createTenant();
    const [a, b, c] = [uniqueKey("a"), uniqueKey("b"), uniqueKey("c")];
    const webhookA = await receiverWebhook(tenant, a);
    const event = await published(tenant, "query.created");
    await receivedAtLeast(a, 1);
    const webhookB = await receiverWebhook(tenant, b);
    await receiverWebhook(tenant, c, undefined, { is_active: false });
    await createWebhook(tenant, webhookBody({ url: receiver.url(uniqueKey("x")), events: ["query.resolved"] }));

    const result = await redelivered(tenant, event.event_id);
    expect(result.deliveries.map((d) => d.webhook_id).sort()).toEqual([webhookA.id, webhookB.id].sort());
    await receivedAtLeast(a, 2);
    await receivedAtLeast(b, 1);
    expect(await receiver.requests(c)).toEqual([]);
    expect((await settled(tenant, event.event_id, 3)).deliveries.every((d) => d.status === "success")).toBe(true);
  });

  it("refuses named webhooks that cannot take the event with 422, naming each, and schedules nothing", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const live = await receiverWebhook(tenant, uniqueKey());
    const inactive = await receiverWebhook(tenant, uniqueKey(), undefined, { is_active: false });
    const unsubscribed = await createWebhook(tenant, webhookBody({ url: receiver.url(uniqueKey()), events: ["query.resolved"] }));
    const deleted = await receiverWebhook(tenant, uniqueKey());
    expect((await api(`/api/v1/webhooks/${deleted.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    const foreign = await receiverWebhook(other, uniqueKey());
    const event = await published(tenant, "query.created");
    const unknown = crypto.randomUUID();

    const error = await expectError(
      await redeliver(tenant, event.event_id, { webhook_ids: [live.id, inactive.id, unsubscribed.id, deleted.id, foreign.id, unknown, "nope"] }),
      422,
      "validation_failed",
    );
    expect(error.fields).toEqual([
      { field: "webhook_ids[1]", message: `webhook ${inactive.id} is inactive; re-enable it first` },
      { field: "webhook_ids[2]", message: `webhook ${unsubscribed.id} is not subscribed to query.created` },
      { field: "webhook_ids[3]", message: `no webhook ${deleted.id}` },
      { field: "webhook_ids[4]", message: `no webhook ${foreign.id}` },
      { field: "webhook_ids[5]", message: `no webhook ${unknown}` },
      { field: "webhook_ids[6]", message: "no webhook nope" },
    ]);
    await expectError(await redeliver(tenant, event.event_id, { webhook_ids: [] }), 422, "validation_failed");
    await expectError(await redeliver(tenant, event.event_id, { webhook_ids: [live.id, live.id] }), 422, "validation_failed");
    expect((await eventDetail(tenant, event.event_id)).redelivered_at).toEqual([]);
    expect((await eventDetail(tenant, event.event_id)).deliveries).toHaveLength(1);
  });

  it("respects MAX_FANOUT_PER_EVENT and the redelivery limit", async () => {
    const tenant = await createTenant();
    await receiverWebhook(tenant, uniqueKey());
    await receiverWebhook(tenant, uniqueKey());
    const event = await published(tenant, "query.created");
    const res = await apiWithEnv({ MAX_FANOUT_PER_EVENT: "1" }, `/api/v1/events/${event.event_id}/redeliver`, { method: "POST", key: tenant.key });
    await expectError(res, 403, "quota_exceeded");

    const full = Array.from({ length: MAX_REDELIVERIES_PER_EVENT }, (_, i) => Date.parse(event.created_at) + 1000 + i);
    await env.DB.prepare("UPDATE events SET redelivered_at = ? WHERE id = ?").bind(JSON.stringify(full), event.event_id).run();
    await expectError(await redeliver(tenant, event.event_id), 409, "conflict");
  });

  it("keeps the new deliveries pending when the queue refuses (enqueued: false); the sweep sends them", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const event = await published(tenant, "query.created");
    await receivedAtLeast(key, 1);

    const refusing = { sendBatch: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue<DeliveryJob>;
    const res = await apiWithEnv({ DELIVERY_QUEUE: refusing }, `/api/v1/events/${event.event_id}/redeliver`, { method: "POST", key: tenant.key });
    expect(res.status).toBe(202);
    const result = (await res.json()) as Redelivered;
    expect(result).toMatchObject({ deliveries_scheduled: 1, enqueued: false, deliveries: [{ webhook_id: webhook.id }] });
    const id = result.deliveries[0].id;
    expect(await env.DB.prepare("SELECT status FROM deliveries WHERE id = ?").bind(id).first("status")).toBe("pending");

    // As if the job had been lost minutes ago: the cron sweep finds the pending row and sends it.
    await env.DB.prepare("UPDATE deliveries SET next_attempt_at = next_attempt_at - 180000 WHERE id = ?").bind(id).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const requests = await receivedAtLeast(key, 2);
    expect(requests[1].headers["webhook-id"]).toBe(id);
    errors.mockRestore();
  });
});
