import { describe, expect, it } from "vitest";
import { receiverWebhook } from "../helpers/delivery";
import { api, createTenant, expectError, uniqueKey } from "../helpers/harness";
import {
  act,
  bodies,
  createQuery,
  freshUser,
  GUIDE_EVENTS,
  getQuery,
  listQueries,
  received,
  resolve,
  settledDeliveries,
  storedCounts,
  storedQuery,
  TEXTS,
} from "../helpers/queries";

describe("authentication", () => {
  const routes: [string, string, unknown?][] = [
    ["POST", "/api/v1/queries", { user_id: "u", query: TEXTS.crash }],
    ["GET", "/api/v1/queries"],
    ["GET", "/api/v1/queries/conv_AAAAAAAAAAAA"],
    ["POST", "/api/v1/queries/conv_AAAAAAAAAAAA/escalate", { reason: "r" }],
    ["POST", "/api/v1/queries/conv_AAAAAAAAAAAA/resolve", { response: "r" }],
    ["POST", "/api/v1/queries/conv_AAAAAAAAAAAA/feedback", { rating: 4 }],
    ["GET", "/api/v1/event-types"],
    ["GET", "/api/v1/stats"],
  ];

  it.each(routes)("%s %s needs a valid API key", async (method, path, json) => {
    await expectError(await api(path, { method, json }), 401, "unauthorized");
    await expectError(await api(path, { method, json, key: "hr_live_not_a_real_key" }), 401, "unauthorized");
  });

  it("a revoked key can no longer create queries", async () => {
    const tenant = await createTenant();
    const keys = await api("/api/v1/api-keys", { key: tenant.key });
    expect(keys.status).toBe(200);
    const [first] = (await keys.json()) as { id: string }[];
    const other = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json: { name: "second" } });
    expect(other.status).toBe(201);
    const second = (await other.json()) as { api_key: string };
    expect((await api(`/api/v1/api-keys/${first.id}`, { method: "DELETE", key: second.api_key })).status).toBe(204);

    await expectError(await api("/api/v1/queries", { method: "POST", key: tenant.key, json: { user_id: "u", query: TEXTS.crash } }), 401, "unauthorized");
    expect((await storedCounts(tenant.id)).queries).toBe(0);
  });
});

describe("tenant isolation", () => {
  it("tenant B gets 404 on A's query for get, escalate, resolve and feedback, and changes nothing", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const aKey = uniqueKey("a");
    await receiverWebhook(a, aKey, "200", { events: GUIDE_EVENTS });
    const open = await createQuery(a, { query: TEXTS.crash });
    const resolvedQ = await createQuery(a, { query: TEXTS.chargedTwice });
    await resolve(a, resolvedQ.id);
    await received(aKey, 3);
    const [aBefore, bBefore] = [await storedCounts(a.id), await storedCounts(b.id)];
    const [openRow, resolvedRow] = [await storedQuery(open.id), await storedQuery(resolvedQ.id)];

    for (const id of [open.id, resolvedQ.id]) {
      await expectError(await api(`/api/v1/queries/${id}`, { key: b.key }), 404, "not_found");
      await expectError(await act(b, id, "escalate", { reason: "hijack" }), 404, "not_found");
      await expectError(await act(b, id, "resolve", { response: "hijack" }), 404, "not_found");
      await expectError(await act(b, id, "feedback", { rating: 1 }), 404, "not_found");
    }

    expect(await storedCounts(a.id)).toEqual(aBefore);
    expect(await storedCounts(b.id)).toEqual(bBefore);
    expect(await storedQuery(open.id)).toEqual(openRow);
    expect(await storedQuery(resolvedQ.id)).toEqual(resolvedRow);
    expect((await getQuery(a, resolvedQ.id)).feedback).toBeNull();

    // A's own later change is the sentinel: A's receiver got nothing from B's attempts.
    await act(a, resolvedQ.id, "feedback", { rating: 5 }).then((r) => expect(r.status).toBe(201));
    expect(
      bodies(await received(aKey, 4))
        .map((body) => body.event)
        .sort(),
    ).toEqual(["feedback.received", "query.created", "query.created", "query.resolved"]);
  });

  it("A's queries never appear in B's list, even filtered by A's user, nor in B's stats", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const user = freshUser();
    const q = await createQuery(a, { user_id: user, query: TEXTS.crash });
    await resolve(a, q.id);
    await act(a, q.id, "feedback", { rating: 5 });

    expect(await listQueries(b)).toEqual([]);
    expect(await listQueries(b, `?user_id=${user}`)).toEqual([]);
    expect(await listQueries(b, "?status=resolved")).toEqual([]);
    expect((await listQueries(a)).map((item) => item.id)).toEqual([q.id]);

    const stats = await api("/api/v1/stats", { key: b.key });
    expect(stats.status).toBe(200);
    expect(await stats.json()).toEqual({
      queries: { total: 0, by_status: { open: 0, escalated: 0, resolved: 0 }, by_category: {}, escalation_rate: 0, mean_resolution_time_seconds: null },
      feedback: { count: 0, mean_rating: null },
      deliveries: {
        by_status: { pending: 0, success: 0, failed: 0, cancelled: 0 },
        last_24h: { since: expect.any(String), attempts: 0, succeeded: 0, failed: 0, p50_response_ms: null, p95_response_ms: null },
      },
    });
  });

  it("a user's queries in another tenant do not count as repeat contacts", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const user = freshUser();
    await createQuery(a, { user_id: user, query: TEXTS.crash });
    await createQuery(a, { user_id: user, query: TEXTS.crash });
    expect(await createQuery(b, { user_id: user, query: TEXTS.crash })).toMatchObject({ priority: 5, escalated: false });
  });

  it("events of one tenant's queries reach only that tenant's webhooks", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const [aKey, bKey] = [uniqueKey("a"), uniqueKey("b")];
    await receiverWebhook(a, aKey, "200", { events: GUIDE_EVENTS });
    await receiverWebhook(b, bKey, "200", { events: GUIDE_EVENTS });

    const qa = await createQuery(a, { query: TEXTS.crash });
    const qb = await createQuery(b, { query: TEXTS.chargedTwice });
    await resolve(b, qb.id);

    expect(bodies(await received(aKey, 1)).map((body) => body.data.query_id)).toEqual([qa.id]);
    expect(bodies(await received(bKey, 2)).map((body) => body.data.query_id)).toEqual([qb.id, qb.id]);
    expect(await settledDeliveries(a.id)).toEqual({ success: 1 });
    expect(await settledDeliveries(b.id)).toEqual({ success: 2 });
    // Sentinel on A: another event arrives, nothing of B's came in between.
    await resolve(a, qa.id);
    expect(bodies(await received(aKey, 2)).map((body) => body.data.query_id)).toEqual([qa.id, qa.id]);
  });
});
