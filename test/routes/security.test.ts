import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { ADMIN_TOKEN, api, createTenant, createWebhook, expectError, storedWebhook, type Tenant, webhookBody } from "../helpers/harness";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

/** Every documented tenant operation: all of /api/v1 but the health check and the admin API. */
const document = createApp().getOpenAPI31Document({ openapi: "3.1.0", info: { title: "test", version: "0" } });
const TENANT_OPERATIONS = Object.entries(document.paths ?? {})
  .filter(([path]) => path !== "/api/v1/health" && !path.startsWith("/api/v1/admin/"))
  .flatMap(([path, item]) => Object.keys(item ?? {}).map((method) => [method.toUpperCase(), path] as const));

const badCredentials = (tenant: Tenant) => ({
  missing: undefined,
  "unknown key": "Bearer hrk_0000000000000000000000000000000000000000000",
  "admin token": `Bearer ${ADMIN_TOKEN}`,
  "key without Bearer": tenant.key,
  "Basic scheme": `Basic ${btoa(`${tenant.key}:`)}`,
  "empty Bearer": "Bearer ",
});

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every row of every table of the database, as text. */
async function databaseDump(): Promise<string> {
  const { results: tables } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["api_keys", "tenants", "webhooks"]));
  const dumps = await Promise.all(tables.map(async ({ name }) => JSON.stringify((await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results)));
  return dumps.join("\n");
}

describe("authentication", () => {
  it("the operation list covers the tenant routes", () => {
    expect(TENANT_OPERATIONS).toEqual(
      expect.arrayContaining([
        ["POST", "/api/v1/webhooks"],
        ["GET", "/api/v1/webhooks"],
        ["GET", "/api/v1/webhooks/{id}"],
        ["PUT", "/api/v1/webhooks/{id}"],
        ["DELETE", "/api/v1/webhooks/{id}"],
        ["POST", "/api/v1/api-keys"],
        ["GET", "/api/v1/api-keys"],
        ["DELETE", "/api/v1/api-keys/{id}"],
      ]),
    );
  });

  it.each(TENANT_OPERATIONS)("%s %s refuses missing and wrong credentials with 401 JSON", async (method, path) => {
    const tenant = await createTenant();
    const url = path.replace(/\{\w+\}/g, UNKNOWN_ID);
    for (const [label, authorization] of Object.entries(badCredentials(tenant))) {
      const headers: Record<string, string> = authorization === undefined ? {} : { Authorization: authorization };
      const res = await api(url, { method, headers, json: method === "GET" || method === "DELETE" ? undefined : {} });
      expect(res.status, label).toBe(401);
      await expectError(res, 401, "unauthorized");
    }
  });

  it("a tenant API key is not the admin token", async () => {
    const tenant = await createTenant();
    const res = await api("/api/v1/admin/tenants", { method: "POST", key: tenant.key, json: { name: "intruder" } });
    await expectError(res, 401, "unauthorized");
  });

  it("the health check needs no key", async () => {
    expect((await api("/api/v1/health")).status).toBe(200);
  });
});

describe("API key revocation", () => {
  it("refuses a revoked key from the next request on; the tenant's other keys keep working", async () => {
    const tenant = await createTenant();
    const issued = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json: { name: "ci" } });
    const second = (await issued.json()) as { id: string; api_key: string };
    expect((await api("/api/v1/webhooks", { key: second.api_key })).status).toBe(200);

    expect((await api(`/api/v1/api-keys/${second.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);

    await expectError(await api("/api/v1/webhooks", { key: second.api_key }), 401, "unauthorized");
    await expectError(await api("/api/v1/api-keys", { key: second.api_key }), 401, "unauthorized");
    expect((await api("/api/v1/webhooks", { key: tenant.key })).status).toBe(200);
  });

  it("a key may revoke itself while another is live, and is refused right after", async () => {
    const tenant = await createTenant();
    const list = (await (await api("/api/v1/api-keys", { key: tenant.key })).json()) as { id: string }[];
    expect(list).toHaveLength(1);
    expect((await api("/api/v1/api-keys", { method: "POST", key: tenant.key })).status).toBe(201);

    expect((await api(`/api/v1/api-keys/${list[0].id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    await expectError(await api("/api/v1/webhooks", { key: tenant.key }), 401, "unauthorized");
  });
});

describe("tenant isolation", () => {
  it("another tenant's webhook is 404 on GET, PUT and DELETE, absent from lists, and left unchanged", async () => {
    const [owner, other] = [await createTenant(), await createTenant()];
    const webhook = await createWebhook(owner);
    const before = await storedWebhook(webhook.id);
    const path = `/api/v1/webhooks/${webhook.id}`;

    await expectError(await api(path, { key: other.key }), 404, "not_found");
    await expectError(await api(path, { method: "PUT", key: other.key, json: { url: "https://attacker.example.com/" } }), 404, "not_found");
    await expectError(await api(path, { method: "DELETE", key: other.key }), 404, "not_found");
    const list = await api("/api/v1/webhooks", { key: other.key });
    expect(await list.json()).toEqual([]);
    expect(list.headers.get("X-Total-Count")).toBe("0");

    expect(await storedWebhook(webhook.id)).toEqual(before);
    expect((await api(path, { key: owner.key })).status).toBe(200);
  });

  it("another tenant's API key cannot be listed or revoked", async () => {
    const [owner, other] = [await createTenant(), await createTenant()];
    const [ownerKey] = (await (await api("/api/v1/api-keys", { key: owner.key })).json()) as { id: string }[];

    const otherKeys = (await (await api("/api/v1/api-keys", { key: other.key })).json()) as { id: string }[];
    expect(otherKeys.map((k) => k.id)).not.toContain(ownerKey.id);
    await expectError(await api(`/api/v1/api-keys/${ownerKey.id}`, { method: "DELETE", key: other.key }), 404, "not_found");
    expect((await api("/api/v1/webhooks", { key: owner.key })).status).toBe(200);
  });
});

describe("secrets", () => {
  it("neither API keys nor webhook secrets are stored in plain text; keys are SHA-256 hashes", async () => {
    const tenant = await createTenant();
    const issued = (await (await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json: {} })).json()) as { api_key: string };
    const webhook = await createWebhook(tenant);
    await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { description: "touched" } });

    const dump = await databaseDump();
    for (const secret of [tenant.key, issued.api_key, webhook.secret_key]) {
      const randomPart = secret.replace(/^(hrk_|wsk_live_)/, "");
      expect(randomPart.length).toBeGreaterThanOrEqual(43);
      expect(dump).not.toContain(randomPart);
    }

    const { results: keys } = await env.DB.prepare("SELECT key_hash, prefix FROM api_keys WHERE tenant_id = ?")
      .bind(tenant.id)
      .all<{ key_hash: string; prefix: string }>();
    const expectedHashes = await Promise.all([tenant.key, issued.api_key].map(sha256Hex));
    expect(keys.map((k) => k.key_hash).sort()).toEqual(expectedHashes.sort());
    for (const key of keys) expect(key.prefix).toHaveLength(10);

    const row = (await storedWebhook(webhook.id)) as { secret_encrypted: string };
    expect(row.secret_encrypted).toMatch(/^k1:[0-9a-f]{8}:[A-Za-z0-9+/]+=*$/); // names its encryption key
  });

  it("secret_key appears only in the creation response", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const path = `/api/v1/webhooks/${webhook.id}`;

    const responses = [
      await api(path, { key: tenant.key }),
      await api("/api/v1/webhooks", { key: tenant.key }),
      await api(path, { method: "PUT", key: tenant.key, json: webhookBody({ description: "updated" }) }),
    ];
    for (const res of responses) {
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain("secret");
      expect(text).not.toContain(webhook.secret_key);
    }
  });

  it("API keys appear only when issued", async () => {
    const tenant = await createTenant();
    const issued = (await (await api("/api/v1/api-keys", { method: "POST", key: tenant.key })).json()) as { api_key: string };
    const text = await (await api("/api/v1/api-keys", { key: tenant.key })).text();
    expect(text).not.toContain("api_key");
    for (const key of [tenant.key, issued.api_key]) expect(text).not.toContain(key);
  });
});
