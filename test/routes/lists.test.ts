import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryStatus } from "../../src/db/schema";
import { newTimeOrderedId } from "../../src/lib/ids";
import { published } from "../helpers/delivery";
import { ADMIN_TOKEN, api, createTenant, createWebhook, expectError, type Tenant, webhookBody } from "../helpers/harness";
import { createQuery } from "../helpers/queries";

/** Deliveries written straight into D1 (no job reaches the queue), each created at its own time. */
async function seedDeliveries(tenant: Tenant, webhookId: string, rows: { at: number; status?: DeliveryStatus; event?: string }[]): Promise<string[]> {
  const ids = rows.map((row) => newTimeOrderedId(row.at));
  await env.DB.batch(
    rows.map((row, i) =>
      env.DB.prepare(
        `INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, attempt_log, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 1, '[]', ?)`,
      ).bind(ids[i], tenant.id, webhookId, newTimeOrderedId(row.at), row.event ?? "query.created", row.status ?? "success", row.at),
    ),
  );
  return ids;
}

/** A GET as the tenant: the ids of the page, and its paging headers. */
async function page(key: string, url: string) {
  const res = await api(url.replace("https://api.test", ""), { key });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const links = Object.fromEntries([...(res.headers.get("Link") ?? "").matchAll(/<([^>]+)>; rel="(\w+)"/g)].map(([, href, rel]) => [rel, href])) as {
    next?: string;
    prev?: string;
  };
  return { ids: (JSON.parse(text) as { id: string }[]).map((item) => item.id), total: res.headers.get("X-Total-Count"), links };
}

/** Follows rel="next" from `url` to the end, checking that each page's rel="prev" leads back to the page before. */
async function walk(key: string, url: string) {
  const pages = [await page(key, url)];
  while (pages.at(-1)!.links.next) {
    const next = await page(key, pages.at(-1)!.links.next!);
    expect(next.total).toBeNull(); // cursor pages are not counted
    expect((await page(key, next.links.prev!)).ids).toEqual(pages.at(-1)!.ids);
    pages.push(next);
  }
  return pages;
}

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe("X-Total-Count on every list", () => {
  it("is sent by the webhook, API key, tenant, catalog, query, delivery and event lists", async () => {
    const tenant = await createTenant();
    // Subscribed to a type nobody publishes here: its log holds just the two seeded deliveries.
    const webhook = await createWebhook(tenant, webhookBody({ events: ["feedback.received"] }));
    await seedDeliveries(tenant, webhook.id, [{ at: Date.now() - 1000 }, { at: Date.now() }]);
    await published(tenant, "query.created");
    await createQuery(tenant, { query: "Where is my invoice?" });
    const totals = async (path: string, key = tenant.key) => (await api(path, { key })).headers.get("X-Total-Count");

    expect(await totals("/api/v1/webhooks")).toBe("1");
    expect(await totals("/api/v1/api-keys")).toBe("1");
    expect(Number(await totals("/api/v1/admin/tenants", ADMIN_TOKEN))).toBeGreaterThan(0);
    expect(Number(await totals("/api/v1/event-types"))).toBeGreaterThan(0);
    expect(await totals("/api/v1/queries")).toBe("1");
    expect(await totals(`/api/v1/webhooks/${webhook.id}/deliveries`)).toBe("2");
    expect(await totals("/api/v1/events")).toBe("2"); // the published one and the query's query.created
  });

  it("is declared in the OpenAPI document on every list, with Link on the cursor lists", async () => {
    const doc = (await (await api("/openapi.json")).json()) as { paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>> };
    const headers = (path: string) => Object.keys(doc.paths[path].get.responses["200"].headers ?? {});
    for (const path of ["/api/v1/webhooks", "/api/v1/api-keys", "/api/v1/admin/tenants", "/api/v1/event-types"])
      expect(headers(path), path).toEqual(["X-Total-Count"]);
    for (const path of ["/api/v1/queries", "/api/v1/webhooks/{id}/deliveries", "/api/v1/events"])
      expect(headers(path), path).toEqual(["X-Total-Count", "Link"]);
  });
});

describe("GET /api/v1/webhooks/{id}/deliveries filters", () => {
  it("filters by status, event type and the time range [since, until), and counts what matches", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const t0 = Date.now() - 10 * HOUR;
    const [a, b, c, d] = await seedDeliveries(tenant, webhook.id, [
      { at: t0, status: "success", event: "query.created" },
      { at: t0 + HOUR, status: "failed", event: "query.escalated" },
      { at: t0 + 2 * HOUR, status: "failed", event: "query.created" },
      { at: t0 + 3 * HOUR, status: "pending", event: "query.created" },
    ]);
    const log = (query: string) => page(tenant.key, `/api/v1/webhooks/${webhook.id}/deliveries${query}`);

    expect(await log("")).toMatchObject({ ids: [d, c, b, a], total: "4" });
    expect(await log("?status=failed")).toMatchObject({ ids: [c, b], total: "2" });
    expect(await log("?event=query.created")).toMatchObject({ ids: [d, c, a], total: "3" });
    expect(await log("?status=failed&event=query.created")).toMatchObject({ ids: [c], total: "1" });
    expect(await log(`?since=${iso(t0 + HOUR)}`)).toMatchObject({ ids: [d, c, b], total: "3" });
    expect(await log(`?until=${iso(t0 + HOUR)}`)).toMatchObject({ ids: [a], total: "1" });
    expect(await log(`?since=${iso(t0 + HOUR)}&until=${iso(t0 + 3 * HOUR)}&status=failed`)).toMatchObject({ ids: [c, b], total: "2" });
    expect(await log(`?since=${iso(t0 + 5 * HOUR)}`)).toMatchObject({ ids: [], total: "0" });
    expect(await log("?skip=1&limit=2")).toMatchObject({ ids: [c, b], total: "4" });

    await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries?status=lost`, { key: tenant.key }), 422, "validation_failed");
    await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries?until=tomorrow`, { key: tenant.key }), 422, "validation_failed");
    await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries?before=${a}&after=${b}`, { key: tenant.key }), 422, "validation_failed");
    await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries?before=conv_abc`, { key: tenant.key }), 422, "validation_failed");
    const other = await createTenant();
    await expectError(await api(`/api/v1/webhooks/${webhook.id}/deliveries`, { key: other.key }), 404, "not_found");
  });
});

describe("cursor paging (before/after, Link)", () => {
  it("walks the delivery log by rel=next and back by rel=prev, filters kept, without X-Total-Count", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const t0 = Date.now() - HOUR;
    const ids = await seedDeliveries(
      tenant,
      webhook.id,
      Array.from({ length: 8 }, (_, i) => ({ at: t0 + i * 1000, status: i % 4 === 3 ? ("failed" as const) : ("success" as const) })),
    );
    const newestFirst = [...ids].reverse();

    const pages = await walk(tenant.key, `/api/v1/webhooks/${webhook.id}/deliveries?limit=3`);
    expect(pages.map((p) => p.ids)).toEqual([newestFirst.slice(0, 3), newestFirst.slice(3, 6), newestFirst.slice(6)]);
    expect(pages[0]).toMatchObject({
      total: "8",
      links: { next: `https://api.test/api/v1/webhooks/${webhook.id}/deliveries?limit=3&before=${newestFirst[2]}` },
    });
    expect(pages[0].links.prev).toBeUndefined();
    expect(pages[2].links).toEqual({ prev: `https://api.test/api/v1/webhooks/${webhook.id}/deliveries?limit=3&after=${newestFirst[6]}` });

    // A filter stays in the links.
    const failed = await walk(tenant.key, `/api/v1/webhooks/${webhook.id}/deliveries?limit=1&status=failed`);
    expect(failed.map((p) => p.ids)).toEqual([[ids[7]], [ids[3]]]);
    expect(failed[0].links.next).toContain("status=failed");
    // skip > 0 has a newer neighbour.
    expect((await page(tenant.key, `/api/v1/webhooks/${webhook.id}/deliveries?limit=3&skip=3`)).links.prev).toBe(
      `https://api.test/api/v1/webhooks/${webhook.id}/deliveries?limit=3&after=${newestFirst[3]}`,
    );
  });

  it("pages the event log the same way", async () => {
    const tenant = await createTenant();
    const events = [];
    for (let i = 0; i < 5; i++) events.push((await published(tenant, "query.created")).event_id);
    const pages = await walk(tenant.key, "/api/v1/events?limit=2");
    expect(pages.map((p) => p.ids)).toEqual([events.slice(3).reverse(), events.slice(1, 3).reverse(), [events[0]]]);
    expect(pages[0].total).toBe("5");
  });

  it("pages queries by query id (created_at order), and an unknown cursor matches nothing", async () => {
    const tenant = await createTenant();
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await createQuery(tenant, { query: `Question number ${i}` })).id);
    const all = await page(tenant.key, "/api/v1/queries?limit=100");
    expect(all.total).toBe("5");
    expect(new Set(all.ids)).toEqual(new Set(created));

    const pages = await walk(tenant.key, "/api/v1/queries?limit=2");
    expect(pages.map((p) => p.ids)).toEqual([all.ids.slice(0, 2), all.ids.slice(2, 4), all.ids.slice(4)]);
    expect((await page(tenant.key, "/api/v1/queries?before=conv_doesnotexist")).ids).toEqual([]);
    // Another tenant's query id is no cursor here.
    const other = await createTenant();
    expect((await page(other.key, `/api/v1/queries?before=${all.ids[0]}`)).ids).toEqual([]);
  });
});
