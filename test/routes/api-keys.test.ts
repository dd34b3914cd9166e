import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { meterD1, newUsage } from "../../src/lib/usage";
import { authenticateApiKey } from "../../src/services/api-keys";
import { api, createTenant, expectError, GUIDE_TIMESTAMP, type Tenant, UUID } from "../helpers/harness";

interface KeySummary {
  id: string;
  name: string | null;
  prefix: string;
  created_at: string;
}

interface IssuedKey extends KeySummary {
  api_key: string;
}

async function issueKey(tenant: Tenant, json?: unknown): Promise<IssuedKey> {
  const res = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json });
  expect(res.status).toBe(201);
  return (await res.json()) as IssuedKey;
}

async function listKeys(tenant: Tenant) {
  const res = await api("/api/v1/api-keys", { key: tenant.key });
  expect(res.status).toBe(200);
  return { keys: (await res.json()) as KeySummary[], total: res.headers.get("X-Total-Count") };
}

describe("POST /api/v1/api-keys", () => {
  it("issues a named key, shown in full with its prefix, usable at once", async () => {
    const tenant = await createTenant();
    const issued = await issueKey(tenant, { name: "ci" });

    expect(Object.keys(issued).sort()).toEqual(["api_key", "created_at", "id", "name", "prefix"]);
    expect(issued.id).toMatch(UUID);
    expect(issued.name).toBe("ci");
    expect(issued.api_key).toMatch(/^hrk_[A-Za-z0-9_-]{43,}$/);
    expect(issued.prefix).toBe(issued.api_key.slice(0, 10));
    expect(issued.created_at).toMatch(GUIDE_TIMESTAMP);
    expect(issued.api_key).not.toBe(tenant.key);

    expect((await api("/api/v1/webhooks", { key: issued.api_key })).status).toBe(200);
  });

  it.each([
    ["no body", undefined],
    ["an empty object", {}],
    ["a null name", { name: null }],
  ])("issues an unnamed key for %s", async (_case, json) => {
    const tenant = await createTenant();
    expect((await issueKey(tenant, json)).name).toBeNull();
  });

  it.each([
    ["an empty name", { name: "" }, "name"],
    ["a blank name", { name: "   " }, "name"],
    ["a name over 200 characters", { name: "n".repeat(201) }, "name"],
    ["a name that is not a string", { name: 7 }, "name"],
  ])("refuses %s with 422 validation_failed", async (_case, json, field) => {
    const tenant = await createTenant();
    const res = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, json });
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
    expect((await listKeys(tenant)).total).toBe("1");
  });

  it("refuses malformed JSON with 400 invalid_json", async () => {
    const tenant = await createTenant();
    const res = await api("/api/v1/api-keys", { method: "POST", key: tenant.key, body: "{", headers: { "Content-Type": "application/json" } });
    await expectError(res, 400, "invalid_json");
    expect((await listKeys(tenant)).total).toBe("1");
  });
});

describe("GET /api/v1/api-keys", () => {
  it("lists live keys as a bare array with X-Total-Count, with a prefix and no secret", async () => {
    const tenant = await createTenant();
    const issued = await issueKey(tenant, { name: "ci" });

    const { keys, total } = await listKeys(tenant);
    expect(total).toBe("2");
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(Object.keys(key).sort()).toEqual(["created_at", "id", "name", "prefix"]);
    expect(keys).toContainEqual({ id: issued.id, name: "ci", prefix: issued.prefix, created_at: issued.created_at });
    expect(keys.find((k) => k.id !== issued.id)).toMatchObject({ name: "default", prefix: tenant.key.slice(0, 10) });
  });
});

describe("DELETE /api/v1/api-keys/{id}", () => {
  it("answers 204 and drops the key from the list", async () => {
    const tenant = await createTenant();
    const issued = await issueKey(tenant);

    const res = await api(`/api/v1/api-keys/${issued.id}`, { method: "DELETE", key: tenant.key });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    const { keys, total } = await listKeys(tenant);
    expect(keys.map((k) => k.id)).not.toContain(issued.id);
    expect(total).toBe("1");
  });

  it("answers 404 for a key already revoked, an unknown UUID and a non-UUID", async () => {
    const tenant = await createTenant();
    await issueKey(tenant); // so that the one revoked is not the last
    const issued = await issueKey(tenant);
    await api(`/api/v1/api-keys/${issued.id}`, { method: "DELETE", key: tenant.key });

    for (const id of [issued.id, "00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      await expectError(await api(`/api/v1/api-keys/${id}`, { method: "DELETE", key: tenant.key }), 404, "not_found");
    }
  });
});

describe("the last live API key", () => {
  const revoke = (tenant: Tenant, id: string, key = tenant.key) => api(`/api/v1/api-keys/${id}`, { method: "DELETE", key });

  it("cannot be revoked: 409 conflict, and the key keeps working", async () => {
    const tenant = await createTenant();
    const [only] = (await listKeys(tenant)).keys;

    const error = await expectError(await revoke(tenant, only.id), 409, "conflict");

    expect(error.message).toBe("This is the tenant's last live API key and cannot be revoked: issue another key first");
    expect((await listKeys(tenant)).total).toBe("1");
    expect((await api("/api/v1/webhooks", { key: tenant.key })).status).toBe(200);
  });

  it("becomes revocable once another key is issued, and the other one is then the last", async () => {
    const tenant = await createTenant();
    const [first] = (await listKeys(tenant)).keys;
    const second = await issueKey(tenant);

    expect((await revoke(tenant, first.id, second.api_key)).status).toBe(204);

    await expectError(await revoke(tenant, second.id, second.api_key), 409, "conflict");
    expect((await listKeys({ ...tenant, key: second.api_key })).keys.map((k) => k.id)).toEqual([second.id]);
  });

  it("holds under concurrent revocations: of the last two keys, exactly one is revoked", async () => {
    const tenant = await createTenant();
    const [first] = (await listKeys(tenant)).keys;
    const second = await issueKey(tenant);

    // Each key revokes itself, so each request still authenticates whichever lands first.
    const statuses = await Promise.all([revoke(tenant, first.id), revoke(tenant, second.id, second.api_key)].map(async (res) => (await res).status));

    expect([...statuses].sort()).toEqual([204, 409]);
    const live = await api("/api/v1/api-keys", { key: statuses[0] === 204 ? second.api_key : tenant.key });
    expect(live.headers.get("X-Total-Count")).toBe("1");
  });

  it("is per tenant: another tenant's keys do not make this one revocable", async () => {
    const [tenant, other] = [await createTenant(), await createTenant()];
    await issueKey(other);
    const [only] = (await listKeys(tenant)).keys;
    await expectError(await revoke(tenant, only.id), 409, "conflict");
  });
});

describe("authentication cache (per isolate, KEY_CACHE_MS)", () => {
  const lookups = async (apiKey: string, now?: number) => {
    const usage = newUsage("test");
    const identity = await authenticateApiKey(database(meterD1(env.DB, usage)), apiKey, now);
    return { identity, statements: usage.d1_statements };
  };

  it("a live key is looked up once, then served from memory; a revocation through the API is seen at once", async () => {
    const tenant = await createTenant();
    const second = await issueKey(tenant);
    expect(await lookups(second.api_key)).toMatchObject({ identity: { tenantId: tenant.id }, statements: 1 });
    expect(await lookups(second.api_key)).toMatchObject({ identity: { tenantId: tenant.id }, statements: 0 });

    expect((await api(`/api/v1/api-keys/${second.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    expect(await lookups(second.api_key)).toEqual({ identity: null, statements: 1 });
    await expectError(await api("/api/v1/webhooks", { key: second.api_key }), 401, "unauthorized");
  });

  it("a change made elsewhere (another isolate) is seen within 10 s; refused keys are never cached", async () => {
    const tenant = await createTenant();
    await lookups(tenant.key);
    await env.DB.prepare("UPDATE tenants SET disabled_at = ? WHERE id = ?").bind(Date.now(), tenant.id).run();
    expect((await lookups(tenant.key)).identity).toMatchObject({ tenantDisabled: false }); // still cached
    expect(await lookups(tenant.key, Date.now() + 10_001)).toMatchObject({ identity: { tenantDisabled: true }, statements: 1 });

    const unknown = "hrk_not-a-key";
    expect(await lookups(unknown)).toEqual({ identity: null, statements: 1 });
    expect(await lookups(unknown)).toEqual({ identity: null, statements: 1 });
  });
});
