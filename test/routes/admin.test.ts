import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, apiWithEnv, expectError, GUIDE_TIMESTAMP, UUID } from "../helpers/harness";

const PATH = "/api/v1/admin/tenants";

async function tenantCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM tenants").first<{ n: number }>())?.n ?? 0;
}

/** Sends a request that must be refused and asserts it created no tenant. */
async function withoutNewTenants(request: () => Promise<Response>): Promise<Response> {
  const before = await tenantCount();
  const res = await request();
  expect(await tenantCount()).toBe(before);
  return res;
}

describe("POST /api/v1/admin/tenants", () => {
  it("creates a tenant and its first API key with the admin token", async () => {
    const res = await api(PATH, { method: "POST", key: ADMIN_TOKEN, json: { name: "Acme HR" } });

    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; name: string; api_key: string; created_at: string };
    expect(Object.keys(body).sort()).toEqual(["api_key", "created_at", "id", "name"]);
    expect(body.id).toMatch(UUID);
    expect(body.name).toBe("Acme HR");
    expect(body.api_key).toMatch(/^hrk_[A-Za-z0-9_-]{43,}$/);
    expect(body.created_at).toMatch(GUIDE_TIMESTAMP);

    const list = await api("/api/v1/webhooks", { key: body.api_key });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([]);
  });

  it.each([
    ["missing", {}],
    ["wrong", { Authorization: "Bearer not-the-admin-token" }],
    ["a prefix of the right one", { Authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
    ["not Bearer", { Authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` }],
  ])("refuses an admin token that is %s with 401", async (_case, headers) => {
    const res = await withoutNewTenants(() => api(PATH, { method: "POST", headers, json: { name: "Acme HR" } }));
    await expectError(res, 401, "unauthorized");
  });

  it.each([
    ["unset", { ADMIN_TOKEN: undefined }],
    ["empty", { ADMIN_TOKEN: "" }],
  ])("stays closed when ADMIN_TOKEN is %s", async (_case, overrides) => {
    for (const key of [ADMIN_TOKEN, "", "undefined"]) {
      const res = await withoutNewTenants(() => apiWithEnv(overrides, PATH, { method: "POST", key, json: { name: "Acme HR" } }));
      await expectError(res, 401, "unauthorized");
    }
  });

  it.each([
    ["no name", {}],
    ["an empty name", { name: "" }],
    ["a blank name", { name: "  " }],
    ["a name over 200 characters", { name: "n".repeat(201) }],
    ["a name that is not a string", { name: 42 }],
  ])("refuses %s with 422 validation_failed", async (_case, json) => {
    const res = await withoutNewTenants(() => api(PATH, { method: "POST", key: ADMIN_TOKEN, json }));
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual(["name"]);
  });

  it("refuses malformed JSON with 400 invalid_json", async () => {
    const res = await withoutNewTenants(() =>
      api(PATH, { method: "POST", key: ADMIN_TOKEN, body: '{"name":', headers: { "Content-Type": "application/json" } }),
    );
    await expectError(res, 400, "invalid_json");
  });

  it("checks the token before the body", async () => {
    const res = await api(PATH, { method: "POST", body: "{", headers: { "Content-Type": "application/json" } });
    await expectError(res, 401, "unauthorized");
  });
});
