/// <reference types="vite/client" />
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { LOCAL_CLIENT, RATE_LIMITS } from "../../src/middleware/rate-limit";
import wranglerToml from "../../wrangler.toml?raw";
import { receiverWebhook } from "../helpers/delivery";
import { ADMIN_TOKEN, api, apiWithEnv, createTenant, expectError, receiver, type Tenant, uniqueKey } from "../helpers/harness";

/**
 * The local limiter (Miniflare's, as Cloudflare's) counts in windows aligned to the clock: a test
 * that must stay within one window waits for a fresh one when too little of the current is left.
 */
async function withinOneWindow(periodSeconds: number, neededMs: number) {
  const periodMs = periodSeconds * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** A stand-in limiter binding that answers `success` and keeps the keys it was asked about. */
function stubLimiter(success: boolean) {
  const keys: string[] = [];
  const binding = {
    limit: async ({ key }: { key: string }) => {
      keys.push(key);
      return { success };
    },
  } as RateLimit;
  return { binding, keys };
}

async function keyIdOf(tenant: Tenant): Promise<string> {
  const res = await api("/api/v1/api-keys", { key: tenant.key });
  const [key] = (await res.json()) as { id: string }[];
  return key.id;
}

async function expectRateLimited(res: Response, retryAfter: number, message: string) {
  expect(res.headers.get("Retry-After")).toBe(String(retryAfter));
  const error = await expectError(res, 429, "rate_limited");
  expect(error.message).toBe(message);
}

describe("POST /api/v1/webhooks/{id}/test: 10 per 10 s per API key", () => {
  it("answers the 11th call in a window 429 with Retry-After, without a request to the endpoint", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200");
    const testCall = (apiKey = tenant.key) => api(`/api/v1/webhooks/${webhook.id}/test`, { method: "POST", key: apiKey });
    await withinOneWindow(10, 4000);

    for (let i = 0; i < 10; i++) expect((await testCall()).status).toBe(200);
    const refused = await testCall();

    await expectRateLimited(refused, 10, "Too many test deliveries for this API key: at most 10 per 10 s; retry after 10 s");
    expect(await receiver.requests(key)).toHaveLength(10);
    // Only the test endpoint is limited this tightly; another key of the tenant has its own count.
    expect((await api(`/api/v1/webhooks/${webhook.id}`, { key: tenant.key })).status).toBe(200);
    const other = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json: {} });
    const { api_key } = (await other.json()) as { api_key: string };
    expect((await testCall(api_key)).status).toBe(200);
  });
});

describe("failed authentications: 20 per 60 s per client", () => {
  it("answers a client's 21st bad key 429, while its valid keys and other clients go on", async () => {
    const tenant = await createTenant();
    const client = { "CF-Connecting-IP": `198.51.100.${Math.floor(Math.random() * 250)}-${uniqueKey()}` };
    const as = (headers: Record<string, string>, key?: string) => api("/api/v1/webhooks", { headers, key });
    await withinOneWindow(60, 6000);

    // A request without credentials is no failed guess: not counted.
    for (let i = 0; i < 3; i++) await expectError(await as(client), 401, "unauthorized");
    for (let i = 0; i < 20; i++) await expectError(await as(client, `hrk_bad${i}`), 401, "unauthorized");
    const refused = await as(client, "hrk_bad20");

    await expectRateLimited(refused, 60, "Too many failed authentications from this client: at most 20 per 60 s; retry after 60 s");
    // A wrong admin token counts against the same client.
    const admin = await api("/api/v1/admin/tenants", { method: "POST", headers: client, key: "not-the-token", json: { name: "x" } });
    await expectError(admin, 429, "rate_limited");
    // Only failures count: the client's valid key works, and another client's bad key is a 401.
    expect((await as(client, tenant.key)).status).toBe(200);
    expect((await api("/api/v1/admin/tenants", { method: "POST", headers: client, key: ADMIN_TOKEN, json: { name: "ok" } })).status).toBe(201);
    await expectError(await as({ "CF-Connecting-IP": `203.0.113.7-${uniqueKey()}` }, "hrk_bad"), 401, "unauthorized");
  });

  it("counts against CF-Connecting-IP, or the one local client without it", async () => {
    const failures = stubLimiter(true);
    const bindings = { ...env, AUTH_FAILURE_RATE_LIMITER: failures.binding };
    const request = (headers: Record<string, string>) =>
      createApp().fetch(new Request("https://api.test/api/v1/webhooks", { headers: { Authorization: "Bearer hrk_bad", ...headers } }), bindings);

    await expectError(await request({ "CF-Connecting-IP": "192.0.2.1" }), 401, "unauthorized");
    await expectError(await request({}), 401, "unauthorized");

    expect(failures.keys).toEqual(["192.0.2.1", LOCAL_CLIENT]);
  });
});

describe("tenant API: 600 per 60 s per API key", () => {
  it("answers 429 with Retry-After when the key's limiter refuses, counting by key id, never the key", async () => {
    const tenant = await createTenant();
    const keyId = await keyIdOf(tenant);
    const refusing = stubLimiter(false);

    const res = await apiWithEnv({ API_RATE_LIMITER: refusing.binding }, "/api/v1/webhooks", { key: tenant.key });

    await expectRateLimited(res, 60, "Too many requests for this API key: at most 600 per 60 s; retry after 60 s");
    expect(refusing.keys).toEqual([keyId]);
  });

  it("counts every tenant route once per request, and neither the health check nor the admin API", async () => {
    const tenant = await createTenant();
    const keyId = await keyIdOf(tenant);
    const counting = stubLimiter(true);
    const overrides: Partial<Env> = { API_RATE_LIMITER: counting.binding };

    expect((await apiWithEnv(overrides, "/api/v1/webhooks", { key: tenant.key })).status).toBe(200);
    expect((await apiWithEnv(overrides, "/api/v1/api-keys", { key: tenant.key })).status).toBe(200);
    expect((await apiWithEnv(overrides, "/api/v1/health")).status).toBe(200);
    expect((await apiWithEnv(overrides, "/api/v1/admin/tenants", { method: "POST", key: ADMIN_TOKEN, json: { name: "x" } })).status).toBe(201);
    await expectError(await apiWithEnv(overrides, "/api/v1/webhooks", { key: "hrk_bad" }), 401, "unauthorized");

    expect(counting.keys).toEqual([keyId, keyId]);
  });

  it("limits nothing when a deployment has no limiter bindings", async () => {
    const tenant = await createTenant();
    const none: Partial<Env> = { API_RATE_LIMITER: undefined, TEST_ENDPOINT_RATE_LIMITER: undefined, AUTH_FAILURE_RATE_LIMITER: undefined };
    expect((await apiWithEnv(none, "/api/v1/webhooks", { key: tenant.key })).status).toBe(200);
    await expectError(await apiWithEnv(none, "/api/v1/webhooks", { key: "hrk_bad" }), 401, "unauthorized");
  });
});

describe("RATE_LIMITS", () => {
  it("repeats wrangler.toml's [[ratelimits]] (the binding does not say its limit or period)", () => {
    const declared = [
      ...wranglerToml.matchAll(/\[\[ratelimits\]\]\s*name = "(\w+)"\s*namespace_id = "\d+"\s*simple = \{ limit = (\d+), period = (\d+) \}/g),
    ].map(([, name, limit, period]) => ({ binding: name, limit: Number(limit), periodSeconds: Number(period) }));
    expect(declared).toEqual(Object.values(RATE_LIMITS).map(({ binding, limit, periodSeconds }) => ({ binding, limit, periodSeconds })));
  });

  it("documents 429 rate_limited with Retry-After on every authenticated route", async () => {
    const doc = (await (await api("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!operation.security?.length) continue; // the health check: security: [], no key, no per-key limit
        expect(operation.responses["429"]?.headers, `${method} ${path}`).toHaveProperty("Retry-After");
      }
    }
  });
});
