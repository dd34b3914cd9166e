import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newTimeOrderedId } from "../../src/lib/ids";
import { api, createTenant, createWebhook, expectError, receiver, storedWebhookCount, type Tenant, uniqueKey, webhookBody } from "../helpers/harness";

const ORIGIN = "https://api.test";

async function sessionLink(tenant: Tenant, body?: Record<string, unknown>) {
  const res = await api("/api/v1/portal/sessions", { method: "POST", key: tenant.key, ...(body ? { json: body } : {}) });
  expect(res.status).toBe(201);
  return (await res.json()) as { url: string; expires_at: string };
}

/** A browser's request to the portal: the cookie it holds, and Origin on a POST (unless overridden). */
function portal(path: string, init: { cookie?: string; form?: Record<string, string>; origin?: string | null } = {}) {
  const headers = new Headers();
  if (init.cookie) headers.set("Cookie", init.cookie);
  const post = init.form !== undefined;
  if (post && init.origin !== null) headers.set("Origin", init.origin ?? ORIGIN);
  const body = post ? new URLSearchParams(init.form) : undefined;
  return exports.default.fetch(`${ORIGIN}${path}`, { method: post ? "POST" : "GET", headers, body, redirect: "manual" });
}

/** Opens a link as a browser would: the cookie it sets (name=value). */
async function open(link: { url: string }) {
  const res = await exports.default.fetch(link.url, { redirect: "manual" });
  expect(res.status).toBe(303);
  expect(res.headers.get("Location")).toBe("/portal");
  const setCookie = res.headers.get("Set-Cookie")!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).toMatch(/Secure/); // https: not a plain-http localhost
  expect(setCookie).toMatch(/Path=\/portal/);
  return setCookie.split(";")[0];
}

describe("POST /api/v1/portal/sessions", () => {
  it("answers a one-time link that expires in an hour by default, and stores only the token's hash", async () => {
    const tenant = await createTenant();
    const before = Date.now();
    const link = await sessionLink(tenant);
    expect(link.url).toMatch(/^https:\/\/api\.test\/portal\/open\?token=ptl_[A-Za-z0-9_-]{43}$/);
    const expires = Date.parse(link.expires_at);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000);
    const token = new URL(link.url).searchParams.get("token")!;
    const stored = await env.DB.prepare("SELECT * FROM portal_sessions WHERE tenant_id = ?").bind(tenant.id).all();
    expect(stored.results).toHaveLength(1);
    expect(JSON.stringify(stored.results[0])).not.toContain(token);
  });

  it("needs an API key and validates its body", async () => {
    await expectError(await api("/api/v1/portal/sessions", { method: "POST" }), 401, "unauthorized");
    const tenant = await createTenant();
    const res = await api("/api/v1/portal/sessions", { method: "POST", key: tenant.key, json: { expires_in_seconds: 5 } });
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields).toEqual([{ field: "expires_in_seconds", message: "expires_in_seconds must be at least 60" }]);
    await expectError(await api("/api/v1/portal/sessions", { method: "POST", key: tenant.key, json: { read_only: "yes" } }), 422, "validation_failed");
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await (await api("/openapi.json")).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(Object.keys(doc.paths["/api/v1/portal/sessions"].post.responses)).toEqual(expect.arrayContaining(["201", "401", "422"]));
  });
});

describe("opening a link", () => {
  it("works once: the cookie opens the portal, the link a second time is refused with a plain page", async () => {
    const tenant = await createTenant();
    const link = await sessionLink(tenant);
    const cookie = await open(link);
    const page = await portal("/portal", { cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("Content-Security-Policy")).toContain("script-src 'self';");
    expect(await page.text()).toContain("<h1>Endpoints</h1>");

    const again = await exports.default.fetch(link.url, { redirect: "manual" });
    expect(again.status).toBe(403);
    expect(again.headers.get("Set-Cookie")).toBeNull();
    expect(await again.text()).toContain("This link cannot be used");
  });

  it("refuses an expired or forged token, and a page without a session", async () => {
    const tenant = await createTenant();
    const link = await sessionLink(tenant, { expires_in_seconds: 60 });
    const token = new URL(link.url).searchParams.get("token")!;
    await env.DB.prepare("UPDATE portal_sessions SET token_expires_at = ? WHERE tenant_id = ?")
      .bind(Date.now() - 1, tenant.id)
      .run();
    expect((await exports.default.fetch(link.url, { redirect: "manual" })).status).toBe(403);
    const forged = `${link.url.slice(0, -4)}AAAA`;
    expect(forged).not.toBe(link.url);
    expect((await exports.default.fetch(forged, { redirect: "manual" })).status).toBe(403);
    expect(token.startsWith("ptl_")).toBe(true);
    expect((await portal("/portal")).status).toBe(401);
    expect((await portal("/portal", { cookie: "portal_session=pts_forged" })).status).toBe(401);
  });

  it("of two concurrent opens of one link, exactly one gets a session", async () => {
    const link = await sessionLink(await createTenant());
    const answers = await Promise.all([1, 2, 3].map(() => exports.default.fetch(link.url, { redirect: "manual" })));
    expect(answers.map((r) => r.status).sort()).toEqual([303, 403, 403]);
  });

  it("a revoked session or one of a disabled tenant is refused on the next request", async () => {
    const tenant = await createTenant();
    const cookie = await open(await sessionLink(tenant));
    expect((await portal("/portal/sign-out", { cookie, form: {} })).status).toBe(200);
    expect((await portal("/portal", { cookie })).status).toBe(401);

    const other = await createTenant();
    const otherCookie = await open(await sessionLink(other));
    await env.DB.prepare("UPDATE tenants SET disabled_at = ? WHERE id = ?").bind(Date.now(), other.id).run();
    expect((await portal("/portal", { cookie: otherCookie })).status).toBe(401);
  });
});

describe("refusals on the server", () => {
  it("a read-only session sees the endpoints but every direct POST is refused, nothing stored", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ url: receiver.url(uniqueKey("ro")) }));
    const cookie = await open(await sessionLink(tenant, { read_only: true }));
    const page = await portal(`/portal/endpoints/${webhook.id}`, { cookie });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Read-only");
    expect(html).not.toContain("Send test event");

    const form = { url: receiver.url(uniqueKey("ro")), events: "query.created" };
    const attempts = [
      portal("/portal/endpoints", { cookie, form }),
      portal(`/portal/endpoints/${webhook.id}`, { cookie, form }),
      portal(`/portal/endpoints/${webhook.id}/disable`, { cookie, form: {} }),
      portal(`/portal/endpoints/${webhook.id}/delete`, { cookie, form: {} }),
      portal(`/portal/endpoints/${webhook.id}/test`, { cookie, form: {} }),
      portal(`/portal/endpoints/${webhook.id}/rotate-secret`, { cookie, form: {} }),
      portal(`/portal/endpoints/${webhook.id}/recover`, { cookie, form: { since: "2020-01-01T00:00" } }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("Read-only session");
    }
    expect(await storedWebhookCount(tenant.id)).toBe(1);
    const after = (await (await api(`/api/v1/webhooks/${webhook.id}`, { key: tenant.key })).json()) as { is_active: boolean; updated_at: string };
    expect(after).toMatchObject({ is_active: true, updated_at: webhook.updated_at });
    const deliveries = (await (await api(`/api/v1/webhooks/${webhook.id}/deliveries`, { key: tenant.key })).json()) as unknown[];
    expect(deliveries).toEqual([]);
  });

  it("a POST without this origin's Origin header is refused, even with a writable session", async () => {
    const tenant = await createTenant();
    const cookie = await open(await sessionLink(tenant));
    const form = { url: receiver.url(uniqueKey("origin")), events: "query.created" };
    for (const origin of [null, "https://evil.example"]) {
      const res = await portal("/portal/endpoints", { cookie, form, origin });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("did not come from the portal");
    }
    expect(await storedWebhookCount(tenant.id)).toBe(0);
    const created = await portal("/portal/endpoints", { cookie, form });
    expect(created.status).toBe(200);
    expect(await storedWebhookCount(tenant.id)).toBe(1);
  });

  it("another tenant's endpoint is not found", async () => {
    const owner = await createTenant();
    const webhook = await createWebhook(owner);
    const cookie = await open(await sessionLink(await createTenant()));
    expect((await portal(`/portal/endpoints/${webhook.id}`, { cookie })).status).toBe(404);
    expect((await portal(`/portal/endpoints/${webhook.id}/disable`, { cookie, form: {} })).status).toBe(404);
    expect((await portal(`/portal/endpoints/${webhook.id}/deliveries`, { cookie })).status).toBe(404);
    const unknown = await portal("/portal/no-such-page", { cookie });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("Content-Type")).toMatch(/^text\/html/);
  });

  it("a form with a bad URL or no events is shown again with the API's messages, escaped", async () => {
    const tenant = await createTenant();
    const cookie = await open(await sessionLink(tenant));
    const res = await portal("/portal/endpoints", { cookie, form: { url: "javascript:alert(1)", description: '<script>alert("x")</script>' } });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("events");
    expect(html).not.toContain('<script>alert("x")</script>');
    expect(html).toContain("&lt;script&gt;");
    expect(await storedWebhookCount(tenant.id)).toBe(0);
  });

  it("test events from the portal count against the API's test limit (10 per 10 s), per tenant", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ url: receiver.url(uniqueKey("limit")) }));
    const cookie = await open(await sessionLink(tenant));
    const statuses: number[] = [];
    // Fixed windows: should one end during the loop, the limit is reached within the next 10 calls.
    while (statuses.length < 21 && statuses.at(-1) !== 429) statuses.push((await portal(`/portal/endpoints/${webhook.id}/test`, { cookie, form: {} })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(statuses.at(-1)).toBe(429);

    // Those test deliveries, per hour on the endpoint page's chart data (24 hours, the last one now).
    const html = await (await portal(`/portal/endpoints/${webhook.id}`, { cookie })).text();
    const attribute = html.match(/data-chart="([^"]*)"/)![1].replaceAll("&quot;", '"');
    const chart = JSON.parse(attribute) as { hours: number[]; succeeded: number[]; failed: number[] };
    expect(chart.hours).toHaveLength(24);
    expect(chart.hours.at(-1)).toBe(Math.floor(Date.now() / 3_600_000) * 3600);
    expect(chart.succeeded.reduce((a, b) => a + b) + chart.failed.reduce((a, b) => a + b)).toBe(statuses.length - 1);
    const week = (await (await portal(`/portal/endpoints/${webhook.id}?range=7d`, { cookie })).text()).match(/data-chart="([^"]*)"/)![1];
    expect((JSON.parse(week.replaceAll("&quot;", '"')) as { hours: number[] }).hours).toHaveLength(168);
    expect(html).toMatch(/<script src="\/portal\/assets\/uplot@1\.6\.32\/uPlot\.iife\.min\.js" defer=""><\/script>/);
    const asset = await portal("/portal/assets/uplot@1.6.32/uPlot.iife.min.js");
    expect(asset.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(await asset.text()).toContain("uPlot");
  });

  it("PORTAL_FRAME_ANCESTORS sets who may frame the portal", async () => {
    const { createApp } = await import("../../src/app");
    const res = await createApp().fetch(new Request(`${ORIGIN}/portal`), { ...env, PORTAL_FRAME_ANCESTORS: "https://hr.example.com" } as never);
    expect(res.status).toBe(401);
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors https://hr.example.com");
  });
});

describe("the delivery log page", () => {
  /** Finished deliveries written straight into D1, one a minute from `start`, alternately succeeded and failed. */
  async function seedDeliveries(tenant: Tenant, webhookId: string, count: number, start: number) {
    const statements = [];
    for (let n = 0; n < count; n++) {
      const at = start + n * 60_000;
      const eventId = newTimeOrderedId(at);
      statements.push(
        env.DB.prepare("INSERT INTO events (id, tenant_id, type, data, deliveries_scheduled, created_at) VALUES (?, ?, 'query.created', '{}', 1, ?)").bind(
          eventId,
          tenant.id,
          at,
        ),
        env.DB.prepare(
          "INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, created_at, finished_at) VALUES (?, ?, ?, ?, 'query.created', ?, 1, ?, ?)",
        ).bind(newTimeOrderedId(at), tenant.id, webhookId, eventId, n % 2 === 0 ? "success" : "failed", at, at),
      );
    }
    await env.DB.batch(statements);
  }

  const rowsOf = (html: string) => [...html.matchAll(/<tr><td><a href="[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
  const linkOf = (html: string, label: string) => html.match(new RegExp(`<a href="([^"]+)">${label}</a>`))?.[1].replaceAll("&amp;", "&");

  it("pages with Older/Newer cursors and filters by status and time (UTC)", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const start = Date.UTC(2026, 0, 1, 0, 0, 0);
    await seedDeliveries(tenant, webhook.id, 30, start);
    const cookie = await open(await sessionLink(tenant));
    const base = `/portal/endpoints/${webhook.id}/deliveries`;

    const first = await (await portal(base, { cookie })).text();
    expect(rowsOf(first)).toHaveLength(25);
    expect(rowsOf(first)[0]).toBe("2026-01-01T00:29:00Z");
    expect(first).toContain("30 deliveries in all");
    expect(linkOf(first, "Newer")).toBeUndefined();
    const older = await (await portal(linkOf(first, "Older")!, { cookie })).text();
    expect(rowsOf(older)).toEqual(["2026-01-01T00:04:00Z", "2026-01-01T00:03:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:00:00Z"]);
    expect(linkOf(older, "Older")).toBeUndefined();
    const newer = await (await portal(linkOf(older, "Newer")!, { cookie })).text();
    expect(rowsOf(newer)[0]).toBe("2026-01-01T00:29:00Z");
    expect(rowsOf(newer).at(-1)).toBe("2026-01-01T00:05:00Z");

    const filtered = await (await portal(`${base}?status=failed&since=2026-01-01T00:10&until=2026-01-01T00:20`, { cookie })).text();
    expect(rowsOf(filtered)).toEqual(["2026-01-01T00:19:00Z", "2026-01-01T00:17:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:13:00Z", "2026-01-01T00:11:00Z"]);
    expect(filtered).toContain("5 deliveries match");
    expect(filtered).toContain('value="2026-01-01T00:10"');
  });
});
