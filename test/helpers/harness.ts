import { env, exports } from "cloudflare:workers";
import { expect, inject } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import type { WebhookWithSecretView as WebhookCreated } from "../../src/routes/webhooks/webhooks.schemas";
import type { ReceivedRequest } from "../setup/receiver";

export const ADMIN_TOKEN = "test-admin-token";

/**
 * A client address of its own for each request, unless the test sends CF-Connecting-IP: failed
 * authentications are rate-limited per client (src/middleware/rate-limit.ts), and the suite's
 * many 401 checks must not add up to a 429 in some other test.
 */
function asOwnClient(headers: Headers) {
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", `test-${crypto.randomUUID()}`);
}

/** Calls the Worker's own fetch handler (the real app, bindings and queue). */
export function api(path: string, init: RequestInit & { key?: string; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
  asOwnClient(headers);
  if (init.key) headers.set("Authorization", `Bearer ${init.key}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(`https://api.test${path}`, { ...init, headers, body });
}

/** Calls the app with some bindings overridden (e.g. ENVIRONMENT=production). */
export async function apiWithEnv(overrides: Partial<Env>, path: string, init: RequestInit & { key?: string; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
  asOwnClient(headers);
  if (init.key) headers.set("Authorization", `Bearer ${init.key}`);
  if (init.json !== undefined) headers.set("Content-Type", "application/json");
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
  return createApp().fetch(new Request(`https://api.test${path}`, { ...init, headers, body }), { ...env, ...overrides });
}

export interface Tenant {
  id: string;
  name: string;
  key: string;
}

let tenantCounter = 0;

/** A fresh tenant with its first API key, through the admin API. */
export async function createTenant(name = `Tenant ${++tenantCounter}`): Promise<Tenant> {
  const res = await api("/api/v1/admin/tenants", { method: "POST", key: ADMIN_TOKEN, json: { name } });
  if (res.status !== 201) throw new Error(`tenant creation failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { id: string; name: string; api_key: string };
  return { id: body.id, name: body.name, key: body.api_key };
}

/** A webhook as every response but the creation one shows it; the creation one adds secret_key. */
export type { WebhookView, WebhookWithSecretView as WebhookCreated } from "../../src/routes/webhooks/webhooks.schemas";

/** A valid creation body, with fields replaced or added. */
export const webhookBody = (overrides: Record<string, unknown> = {}) => ({
  url: "https://hooks.example.com/hr",
  events: ["query.created", "query.escalated"],
  ...overrides,
});

export async function createWebhook(tenant: Tenant, body: Record<string, unknown> = webhookBody()): Promise<WebhookCreated> {
  const res = await api("/api/v1/webhooks", { method: "POST", key: tenant.key, json: body });
  if (res.status !== 201) throw new Error(`webhook creation failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as WebhookCreated;
}

/** The shared local receiver (test/setup/receiver.ts). */
export const receiver = {
  url(key: string, respond?: string) {
    return `http://localhost:${inject("receiverPort")}/${key}${respond ? `?respond=${respond}` : ""}`;
  },
  async requests(key: string): Promise<ReceivedRequest[]> {
    const res = await fetch(`http://localhost:${inject("receiverPort")}/__requests/${key}`);
    return (await res.json()) as ReceivedRequest[];
  },
  /** Answers 200 to the requests to `key` still hanging ("hang"); returns how many there were. */
  async release(key: string): Promise<number> {
    const res = await fetch(`http://localhost:${inject("receiverPort")}/__release/${key}`, { method: "POST" });
    return ((await res.json()) as { released: number }).released;
  },
};

export const uniqueKey = (label = "r") => `${label}-${crypto.randomUUID().slice(0, 8)}`;

export interface ErrorBody {
  code: string;
  message: string;
  fields?: { field: string; message: string }[];
  request_id: string;
}

/** Asserts the one error shape with this status and code; returns the error for further checks. */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  expect(res.headers.get("Content-Type"), text).toMatch(/^application\/json/);
  const { error } = JSON.parse(text) as { error: ErrorBody };
  expect({ status: res.status, code: error.code }, text).toEqual({ status, code });
  expect(error.message).toEqual(expect.any(String));
  expect(error.request_id).toBe(res.headers.get("X-Request-Id"));
  return error;
}

/** A raw request body sent as JSON (for malformed or oversized bodies). */
export const rawJson = (body: string) => ({ body, headers: { "Content-Type": "application/json" } });

/** Rows in D1, soft-deleted ones included: what a rejected request must not have changed. */
export async function storedWebhookCount(tenantId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhooks WHERE tenant_id = ?").bind(tenantId).first<{ n: number }>();
  return row?.n ?? 0;
}

export const storedWebhook = (id: string) => env.DB.prepare("SELECT * FROM webhooks WHERE id = ?").bind(id).first();

/** Runs a request that must be refused and asserts it stored no webhook. */
export async function withoutNewWebhooks(tenant: Tenant, request: () => Promise<Response>): Promise<Response> {
  const before = await storedWebhookCount(tenant.id);
  const res = await request();
  expect(await storedWebhookCount(tenant.id)).toBe(before);
  return res;
}

/** The guide's timestamp format, e.g. 2024-11-24T12:00:00Z. */
export const GUIDE_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
