import { describe, expect, it } from "vitest";
import { api, createTenant, createWebhook, expectError, rawJson, storedWebhook, webhookBody, withoutNewWebhooks } from "../helpers/harness";

const BODY_LIMIT = 256 * 1024;
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

/** A JSON body of exactly `bytes` bytes (ASCII), padded through its description. */
function bodyOfSize(bytes: number): string {
  const empty = JSON.stringify(webhookBody({ description: "" }));
  return JSON.stringify(webhookBody({ description: "x".repeat(bytes - empty.length) }));
}

// [case, body, code, field]: each must be refused with 422 and store nothing.
const INVALID_BODIES: [string, unknown, string, string][] = [
  ["events missing", { url: "https://hooks.example.com/hr" }, "validation_failed", "events"],
  ["events empty", webhookBody({ events: [] }), "validation_failed", "events"],
  ["events duplicated", webhookBody({ events: ["query.created", "query.created"] }), "validation_failed", "events"],
  ["events unknown", webhookBody({ events: ["query.created", "query.deleted"] }), "validation_failed", "events.1"],
  ["events the test event", webhookBody({ events: ["webhook.test"] }), "validation_failed", "events.0"],
  ["events not an array", webhookBody({ events: "query.created" }), "validation_failed", "events"],
  ["events null", webhookBody({ events: null }), "validation_failed", "events"],
  ["events of numbers", webhookBody({ events: [1] }), "validation_failed", "events.0"],
  ["url missing", { events: ["query.created"] }, "validation_failed", "url"],
  ["url empty", webhookBody({ url: "" }), "validation_failed", "url"],
  ["url not a string", webhookBody({ url: 42 }), "validation_failed", "url"],
  ["url longer than 2048", webhookBody({ url: `https://hooks.example.com/${"a".repeat(2048)}` }), "validation_failed", "url"],
  ["url unparsable", webhookBody({ url: "not a url" }), "unsafe_url", "url"],
  ["url ftp", webhookBody({ url: "ftp://hooks.example.com/hr" }), "unsafe_url", "url"],
  ["url javascript:", webhookBody({ url: "javascript:alert(1)" }), "unsafe_url", "url"],
  ["url with user:password", webhookBody({ url: "https://user:password@hooks.example.com/hr" }), "unsafe_url", "url"],
  ["url with a user only", webhookBody({ url: "https://user@hooks.example.com/hr" }), "unsafe_url", "url"],
  ["is_active a string", webhookBody({ is_active: "true" }), "validation_failed", "is_active"],
  ["is_active a number", webhookBody({ is_active: 1 }), "validation_failed", "is_active"],
  ["description not a string", webhookBody({ description: 5 }), "validation_failed", "description"],
  ["description longer than 500", webhookBody({ description: "d".repeat(501) }), "validation_failed", "description"],
  ["body an array", [webhookBody()], "validation_failed", "(body)"],
  ["body null", null, "validation_failed", "(body)"],
];

describe("POST /api/v1/webhooks refuses", () => {
  it.each(INVALID_BODIES)("%s: 422 %s on %s, nothing stored", async (_case, body, code, field) => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () => api("/api/v1/webhooks", { method: "POST", key: tenant.key, json: body }));
    const error = await expectError(res, 422, code);
    expect(error.fields?.map((f) => f.field)).toContain(field);
  });

  it("malformed JSON: 400 invalid_json", async () => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () =>
      api("/api/v1/webhooks", { method: "POST", key: tenant.key, ...rawJson('{"url": "https://hooks.example.com/hr",') }),
    );
    await expectError(res, 400, "invalid_json");
  });

  it("an empty JSON body: 400 invalid_json", async () => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () => api("/api/v1/webhooks", { method: "POST", key: tenant.key, ...rawJson("") }));
    await expectError(res, 400, "invalid_json");
  });

  it("a body that is not application/json: 415 unsupported_media_type", async () => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () =>
      api("/api/v1/webhooks", {
        method: "POST",
        key: tenant.key,
        body: JSON.stringify(webhookBody()),
        headers: { "Content-Type": "text/plain" },
      }),
    );
    await expectError(res, 415, "unsupported_media_type");
  });

  it("a body over 256 KiB: 413 payload_too_large; exactly 256 KiB reaches validation", async () => {
    const tenant = await createTenant();
    const post = (body: string) => api("/api/v1/webhooks", { method: "POST", key: tenant.key, ...rawJson(body) });

    await expectError(await withoutNewWebhooks(tenant, () => post(bodyOfSize(BODY_LIMIT + 1))), 413, "payload_too_large");
    // At the limit the body is read, and refused only for its 500+ character description.
    await expectError(await withoutNewWebhooks(tenant, () => post(bodyOfSize(BODY_LIMIT))), 422, "validation_failed");
  });
});

describe("PUT /api/v1/webhooks/{id} refuses", () => {
  const INVALID_UPDATES: [string, unknown, string][] = [
    ["url null", { url: null }, "validation_failed"],
    ["url ftp", { url: "ftp://hooks.example.com/hr" }, "unsafe_url"],
    ["url with user:password", { url: "https://user:password@hooks.example.com/hr" }, "unsafe_url"],
    ["url longer than 2048", { url: `https://hooks.example.com/${"a".repeat(2048)}` }, "validation_failed"],
    ["events empty", { events: [] }, "validation_failed"],
    ["events duplicated", { events: ["query.resolved", "query.resolved"] }, "validation_failed"],
    ["events unknown", { events: ["query.archived"] }, "validation_failed"],
    ["events not an array", { events: "query.created" }, "validation_failed"],
    ["is_active a string", { is_active: "false" }, "validation_failed"],
    ["description too long", { description: "d".repeat(501) }, "validation_failed"],
  ];

  it.each(INVALID_UPDATES)("%s: 422 %s, webhook unchanged", async (_case, json, code) => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const before = await storedWebhook(webhook.id);

    await expectError(await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json }), 422, code);
    expect(await storedWebhook(webhook.id)).toEqual(before);
  });

  it("malformed JSON: 400 invalid_json; oversized: 413 payload_too_large; webhook unchanged", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const before = await storedWebhook(webhook.id);
    const put = (body: string) => api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, ...rawJson(body) });

    await expectError(await put("{is_active: false}"), 400, "invalid_json");
    await expectError(await put(bodyOfSize(BODY_LIMIT + 1)), 413, "payload_too_large");
    expect(await storedWebhook(webhook.id)).toEqual(before);
  });
});

describe("retry_schedule_seconds and rate_limit_per_second: refused on create and update", () => {
  const week = 7 * 86_400;
  // [case, value, the message's gist]: each is a 422 on the field itself, whatever the problem.
  const BAD_SCHEDULES: [string, unknown, RegExp][] = [
    ["a number", 5, /must be an array of waits in whole seconds/],
    ["a string", "5,300", /must be an array/],
    ["an object", { waits: [5] }, /must be an array/],
    ["21 waits", Array(21).fill(1), /at most 20 waits are allowed, got 21/],
    ["a wait of 0", [5, 0], /from 1 to 86400 \(1 day\); entry 1 is 0/],
    ["a negative wait", [-1], /entry 0 is -1/],
    ["a wait over a day", [86_401], /entry 0 is 86401/],
    ["a fraction", [1.5], /whole number of seconds.*entry 0 is 1.5/],
    ["a string wait", ["5"], /entry 0 is "5"/],
    ["a null wait", [null], /entry 0 is null/],
    ["over 7 days in all", [...Array(7).fill(86_400), 1], new RegExp(`add up to ${week + 1} seconds, more than ${week} \\(7 days\\)`)],
  ];

  it.each(BAD_SCHEDULES)("schedule %s: 422 validation_failed on retry_schedule_seconds, nothing stored", async (_case, value, message) => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () =>
      api("/api/v1/webhooks", { method: "POST", key: tenant.key, json: webhookBody({ retry_schedule_seconds: value }) }),
    );
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields).toHaveLength(1);
    expect(error.fields![0].field).toBe("retry_schedule_seconds");
    expect(error.fields![0].message).toMatch(message);
    expect(error.message).toMatch(/^retry_schedule_seconds: /);
  });

  it.each(BAD_SCHEDULES)("schedule %s on PUT: 422 on retry_schedule_seconds, webhook unchanged", async (_case, value, message) => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ retry_schedule_seconds: [5, 300] }));
    const before = await storedWebhook(webhook.id);
    const res = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { retry_schedule_seconds: value } });
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields![0]).toEqual({ field: "retry_schedule_seconds", message: expect.stringMatching(message) });
    expect(await storedWebhook(webhook.id)).toEqual(before);
  });

  it.each([
    ["0", 0],
    ["1001", 1001],
    ["a fraction", 2.5],
    ["a string", "10"],
    ["a boolean", true],
  ])("rate_limit_per_second %s: 422 validation_failed on rate_limit_per_second", async (_case, value) => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () =>
      api("/api/v1/webhooks", { method: "POST", key: tenant.key, json: webhookBody({ rate_limit_per_second: value }) }),
    );
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual(["rate_limit_per_second"]);

    const webhook = await createWebhook(tenant, webhookBody({ rate_limit_per_second: 10 }));
    const put = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { rate_limit_per_second: value } });
    expect((await expectError(put, 422, "validation_failed")).fields?.map((f) => f.field)).toEqual(["rate_limit_per_second"]);
    expect(await storedWebhook(webhook.id)).toMatchObject({ rate_limit_per_second: 10 });
  });
});

describe("GET /api/v1/webhooks refuses query parameters", () => {
  it.each([
    ["skip=-1", "skip"],
    ["skip=1.5", "skip"],
    ["skip=abc", "skip"],
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=-5", "limit"],
    ["limit=abc", "limit"],
    ["is_active=yes", "is_active"],
    ["is_active=1", "is_active"],
  ])("%s: 422 validation_failed on %s", async (query, field) => {
    const tenant = await createTenant();
    const error = await expectError(await api(`/api/v1/webhooks?${query}`, { key: tenant.key }), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
  });
});

describe("unknown ids and routes answer 404 JSON", () => {
  const ids = [
    ["a non-UUID id", "not-a-uuid"],
    ["an SQL-looking id", "1' OR '1'='1"],
    ["an unknown UUID", UNKNOWN_ID],
  ];

  it.each(ids)("%s on GET, PUT and DELETE", async (_case, id) => {
    const tenant = await createTenant();
    await createWebhook(tenant);
    const path = `/api/v1/webhooks/${encodeURIComponent(id)}`;

    await expectError(await api(path, { key: tenant.key }), 404, "not_found");
    await expectError(await api(path, { method: "PUT", key: tenant.key, json: { is_active: false } }), 404, "not_found");
    await expectError(await api(path, { method: "DELETE", key: tenant.key }), 404, "not_found");
  });

  it.each([
    ["GET", "/"],
    ["GET", "/nope"],
    ["GET", "/api/v1/nope"],
    ["GET", "/api/v2/webhooks"],
  ])("%s %s", async (method, path) => {
    const tenant = await createTenant();
    await expectError(await api(path, { method, key: tenant.key }), 404, "not_found");
  });

  it.each([
    ["PATCH", "/api/v1/webhooks", "POST, GET, HEAD"],
    ["POST", `/api/v1/webhooks/${UNKNOWN_ID}`, "GET, HEAD, PUT, DELETE"],
  ])("%s %s is 405 with Allow", async (method, path, allow) => {
    const tenant = await createTenant();
    const res = await api(path, { method, key: tenant.key });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("Allow")).toBe(allow);
  });
});
