import { env, exports } from "cloudflare:workers";
import { inject } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import type { ReceivedRequest } from "../setup/receiver";

export const ADMIN_TOKEN = "test-admin-token";

/** Calls the Worker's own fetch handler (the real app, bindings and queue). */
export function api(path: string, init: RequestInit & { key?: string; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
  if (init.key) headers.set("Authorization", `Bearer ${init.key}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(`https://api.test${path}`, { ...init, headers, body });
}

/** Calls the app with some bindings overridden (e.g. ENVIRONMENT=production). */
export function apiWithEnv(overrides: Partial<Env>, path: string, init: RequestInit & { key?: string; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
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

export interface WebhookCreated {
  id: string;
  url: string;
  events: string[];
  secret_key: string;
  is_active: boolean;
}

export async function createWebhook(tenant: Tenant, body: Record<string, unknown>): Promise<WebhookCreated> {
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
};

export const uniqueKey = (label = "r") => `${label}-${crypto.randomUUID().slice(0, 8)}`;
