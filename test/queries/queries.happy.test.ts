import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createTenant, type Tenant } from "../helpers/harness";
import { createQuery, escalate, freshUser, getQuery, listQueries, postQuery, type QueryChange, type QueryView, resolve, TEXTS } from "../helpers/queries";

const QUERY_FIELDS = [
  "category",
  "created_at",
  "escalated",
  "escalated_at",
  "escalation_reason",
  "id",
  "is_vip",
  "priority",
  "query",
  "resolution_time_seconds",
  "resolved_at",
  "response",
  "sentiment",
  "status",
  "user_id",
];

const view = ({ events: _events, ...rest }: QueryChange): QueryView => rest;

/**
 * Five queries of two users with distinct creation times (set in D1, so the order is
 * certain): a Technical resolved, a Billing escalated, an escalated then resolved Billing,
 * an Account open, a General open. Returned newest first, as the list answers.
 */
async function fiveQueries(tenant: Tenant) {
  const [alice, bob] = [freshUser("alice"), freshUser("bob")];
  const resolvedTechnical = await createQuery(tenant, { user_id: alice, query: TEXTS.crash });
  const escalatedBilling = await createQuery(tenant, { user_id: bob, query: TEXTS.chargedTwice });
  const resolvedBilling = await createQuery(tenant, { user_id: bob, query: "Where is my invoice?" });
  const openAccount = await createQuery(tenant, { user_id: alice, query: "How do I change my password?" });
  const openGeneral = await createQuery(tenant, { user_id: freshUser(), query: "What are your office hours?" });
  const all = [resolvedTechnical, escalatedBilling, resolvedBilling, openAccount, openGeneral];
  const base = Date.now() - 60_000;
  await env.DB.batch(all.map((q, i) => env.DB.prepare("UPDATE queries SET created_at = ? WHERE id = ?").bind(base + i * 1000, q.id)));

  await resolve(tenant, resolvedTechnical.id);
  await escalate(tenant, escalatedBilling.id);
  await escalate(tenant, resolvedBilling.id);
  await resolve(tenant, resolvedBilling.id);
  const current = async (q: QueryChange): Promise<QueryView> => {
    const { feedback: _feedback, events: _events, ...rest } = await getQuery(tenant, q.id);
    return rest;
  };
  const views = {
    resolvedTechnical: await current(resolvedTechnical),
    escalatedBilling: await current(escalatedBilling),
    resolvedBilling: await current(resolvedBilling),
    openAccount: await current(openAccount),
    openGeneral: await current(openGeneral),
  };
  return { alice, bob, ...views };
}

describe("POST /api/v1/queries", () => {
  it("answers 201 with the stored query and the events it published", async () => {
    const tenant = await createTenant();
    const user = freshUser();
    const res = await postQuery(tenant, { user_id: user, query: TEXTS.crash, is_vip: false });
    expect(res.status).toBe(201);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    const body = (await res.json()) as QueryChange;
    expect(Object.keys(body).sort()).toEqual([...QUERY_FIELDS, "events"].sort());
    expect(body.events).toHaveLength(1);
    expect(Object.keys(body.events[0]).sort()).toEqual(["created_at", "deliveries_scheduled", "enqueued", "event", "event_id", "replayed"]);

    const [listed] = await listQueries(tenant);
    expect(listed).toEqual(view(body));
  });

  it("gives every query its own conv_ id", async () => {
    const tenant = await createTenant();
    const ids = await Promise.all(Array.from({ length: 10 }, () => createQuery(tenant, { query: TEXTS.crash }).then((q) => q.id)));
    expect(new Set(ids).size).toBe(10);
    for (const id of ids) expect(id).toMatch(/^conv_[A-Za-z0-9_-]{6,64}$/);
  });
});

describe("GET /api/v1/queries", () => {
  it("is a bare array, newest first, with every query field", async () => {
    const tenant = await createTenant();
    const q = await fiveQueries(tenant);
    const all = await listQueries(tenant);
    expect(Array.isArray(all)).toBe(true);
    expect(all).toEqual([q.openGeneral, q.openAccount, q.resolvedBilling, q.escalatedBilling, q.resolvedTechnical]);
    for (const item of all) expect(Object.keys(item).sort()).toEqual(QUERY_FIELDS);
  });

  it("filters by status, category, user_id and escalated, alone and combined", async () => {
    const tenant = await createTenant();
    const q = await fiveQueries(tenant);
    const ids = async (search: string) => (await listQueries(tenant, search)).map((item) => item.id);

    expect(await ids("?status=open")).toEqual([q.openGeneral.id, q.openAccount.id]);
    expect(await ids("?status=escalated")).toEqual([q.escalatedBilling.id]);
    expect(await ids("?status=resolved")).toEqual([q.resolvedBilling.id, q.resolvedTechnical.id]);
    expect(await ids("?category=Billing")).toEqual([q.resolvedBilling.id, q.escalatedBilling.id]);
    expect(await ids("?category=Technical")).toEqual([q.resolvedTechnical.id]);
    expect(await ids("?category=Weather")).toEqual([]);
    expect(await ids(`?user_id=${q.alice}`)).toEqual([q.openAccount.id, q.resolvedTechnical.id]);
    expect(await ids("?escalated=true")).toEqual([q.resolvedBilling.id, q.escalatedBilling.id]);
    expect(await ids("?escalated=false")).toEqual([q.openGeneral.id, q.openAccount.id, q.resolvedTechnical.id]);
    expect(await ids(`?status=resolved&escalated=true&user_id=${q.bob}&category=Billing`)).toEqual([q.resolvedBilling.id]);
    expect(await ids(`?status=open&user_id=${q.bob}`)).toEqual([]);
  });

  it("pages with skip and limit", async () => {
    const tenant = await createTenant();
    const q = await fiveQueries(tenant);
    const ids = async (search: string) => (await listQueries(tenant, search)).map((item) => item.id);
    const newestFirst = [q.openGeneral, q.openAccount, q.resolvedBilling, q.escalatedBilling, q.resolvedTechnical].map((item) => item.id);

    expect(await ids("?limit=2")).toEqual(newestFirst.slice(0, 2));
    expect(await ids("?skip=2&limit=2")).toEqual(newestFirst.slice(2, 4));
    expect(await ids("?skip=4&limit=2")).toEqual(newestFirst.slice(4));
    expect(await ids("?skip=5")).toEqual([]);
    expect(await ids("?status=resolved&skip=1&limit=1")).toEqual([q.resolvedTechnical.id]);
  });

  it("returns 50 by default and at most 100", async () => {
    const tenant = await createTenant();
    const now = Date.now();
    const statements = Array.from({ length: 101 }, (_, i) =>
      env.DB.prepare(
        "INSERT INTO queries (id, tenant_id, user_id, query, category, sentiment, priority, status, created_at) VALUES (?, ?, 'bulk', 'q', 'General', 'Neutral', 3, 'open', ?)",
      ).bind(`conv_bulk${String(i).padStart(4, "0")}_${tenant.id.slice(0, 8)}`, tenant.id, now - i),
    );
    await env.DB.batch(statements);
    expect(await listQueries(tenant)).toHaveLength(50);
    const page = await listQueries(tenant, "?limit=100");
    expect(page).toHaveLength(100);
    expect(page[0].id).toBe(`conv_bulk0000_${tenant.id.slice(0, 8)}`);
    expect(await listQueries(tenant, "?skip=100&limit=100")).toHaveLength(1);
  });

  it("a fresh tenant's list is empty", async () => {
    expect(await listQueries(await createTenant())).toEqual([]);
  });
});
