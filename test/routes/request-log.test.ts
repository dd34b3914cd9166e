import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { consume, insertDelivery, job, receiverWebhook } from "../helpers/delivery";
import { api, apiWithEnv, createTenant, uniqueKey } from "../helpers/harness";

/**
 * The structured log: one JSON line per request (src/middleware/request-log.ts) and one per
 * consumer batch (src/delivery/consumer.ts), as `wrangler tail` shows them; never the query
 * string, a key or a header.
 */
let lines: string[] = [];
beforeEach(() => {
  lines = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  vi.spyOn(console, "error").mockImplementation(() => {}); // the 500's error line (test/routes/secrets-in-logs.test.ts reads those)
});
afterEach(() => vi.restoreAllMocks());

const logged = (type: string) =>
  lines
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.type === type);

describe("request log", () => {
  it("writes one line per request: request id, tenant, route pattern, method, status, duration; no query string, no key", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey("log"));
    lines = [];
    const res = await api(`/api/v1/webhooks/${webhook.id}?token=sensitive-query-value`, { key: tenant.key });
    expect(res.status).toBe(200);
    expect(logged("request")).toEqual([
      {
        type: "request",
        request_id: res.headers.get("X-Request-Id"),
        method: "GET",
        route: "/api/v1/webhooks/:id",
        status: 200,
        duration_ms: expect.any(Number),
        tenant_id: tenant.id,
      },
    ]);
    expect(lines.join("\n")).not.toContain("sensitive-query-value");
    expect(lines.join("\n")).not.toContain(tenant.key);
    expect(lines.join("\n")).not.toContain(webhook.id); // the pattern, not the path
  });

  it("logs refused and failed requests with their status: 401 without a tenant, 404 without a route, 405, 500", async () => {
    const tenant = await createTenant();
    lines = [];
    const unauthorized = await api("/api/v1/webhooks", { key: "hrk_not-a-real-key" });
    const unknown = await api("/no-such-route");
    const notAllowed = await api("/api/v1/health", { method: "PATCH" });
    const broken = await apiWithEnv({ DB: undefined as unknown as D1Database }, "/api/v1/webhooks", { key: tenant.key });
    expect([unauthorized.status, unknown.status, notAllowed.status, broken.status]).toEqual([401, 404, 405, 500]);
    const requests = logged("request");
    expect(requests.map((r) => [r.method, r.route, r.status, r.request_id])).toEqual([
      ["GET", "/api/v1/webhooks", 401, unauthorized.headers.get("X-Request-Id")],
      ["GET", null, 404, unknown.headers.get("X-Request-Id")],
      ["PATCH", null, 405, notAllowed.headers.get("X-Request-Id")],
      ["GET", "/api/v1/webhooks", 500, broken.headers.get("X-Request-Id")],
    ]);
    expect(requests.every((r) => !("tenant_id" in r))).toBe(true);
    expect(lines.join("\n")).not.toContain("hrk_not-a-real-key");
  });
});

describe("consumer batch log", () => {
  it("writes one line per batch: lane, messages, attempts ended by outcome, deferred, duration", async () => {
    const tenant = await createTenant();
    const ok = await receiverWebhook(tenant, uniqueKey("ok"), "200");
    const failing = await receiverWebhook(tenant, uniqueKey("fail"), "500");
    const first = await insertDelivery(tenant, ok.id);
    const second = await insertDelivery(tenant, failing.id);
    const later = await insertDelivery(tenant, ok.id, { nextAttemptAt: Date.now() + 3_600_000 });
    lines = [];
    await consume([job(ok.id, first.deliveryId, later.deliveryId), job(failing.id, second.deliveryId)]);
    expect(logged("batch")).toEqual([
      {
        type: "batch",
        lane: "fast",
        messages: 2,
        attempted: 2,
        succeeded: 1,
        failed: 1,
        detached: 0,
        deferred: 1,
        cancelled: 0,
        duration_ms: expect.any(Number),
      },
    ]);
  });
});
