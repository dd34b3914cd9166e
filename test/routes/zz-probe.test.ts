import { it } from "vitest";
import { api, apiWithEnv, createTenant } from "../helpers/harness";

it("probe", async () => {
  const t = await createTenant();
  const show = async (label: string, res: Response) => console.log(label, res.status, [...res.headers].map(h=>h.join(":")).join(" | "), (await res.text()).slice(0, 400));
  await show("create", await api("/api/v1/webhooks", { method: "POST", key: t.key, json: { url: "https://example.com/h", events: ["query.created"] } }));
  await show("badjson", await api("/api/v1/webhooks", { method: "POST", key: t.key, body: "{bad", headers: { "content-type": "application/json" } }));
  await show("nojsonct", await api("/api/v1/webhooks", { method: "POST", key: t.key, body: JSON.stringify({ url: "https://example.com/h", events: ["query.created"] }) }));
  await show("big", await api("/api/v1/webhooks", { method: "POST", key: t.key, json: { url: "https://example.com/h", events: ["query.created"], description: "x".repeat(300_000) } }));
  await show("unparsable", await api("/api/v1/webhooks", { method: "POST", key: t.key, json: { url: "not a url", events: ["query.created"] } }));
  await show("ftp", await api("/api/v1/webhooks", { method: "POST", key: t.key, json: { url: "ftp://example.com", events: ["query.created"] } }));
  await show("evnotarr", await api("/api/v1/webhooks", { method: "POST", key: t.key, json: { url: "https://example.com", events: "query.created" } }));
  await show("list", await api("/api/v1/webhooks?limit=0", { key: t.key }));
  await show("404", await api("/nope"));
  await show("404api", await api("/api/v1/nope", { key: t.key }));
  await show("405", await api("/api/v1/webhooks", { method: "PATCH", key: t.key }));
  await show("noadmin", await apiWithEnv({ ADMIN_TOKEN: undefined }, "/api/v1/admin/tenants", { method: "POST", key: "test-admin-token", json: { name: "x" } }));
  await show("prod", await apiWithEnv({ ENVIRONMENT: "production" }, "/api/v1/webhooks", { method: "POST", key: t.key, json: { url: "http://localhost:8080/x", events: ["query.created"] } }));
  await show("docs", await api("/docs"));
  await show("head", await api("/api/v1/health", { method: "HEAD" }));
  await show("keys", await api("/api/v1/api-keys", { key: t.key }));
  await show("keysnobody", await api("/api/v1/api-keys", { method: "POST", key: t.key }));
  await show("keysbadbody", await api("/api/v1/api-keys", { method: "POST", key: t.key, body: "{x", headers: { "content-type": "application/json" } }));
});
