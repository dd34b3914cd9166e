import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { exampleData, published, receivedAtLeast, receiverWebhook, storedDeliveryCount, storedEventCount } from "../helpers/delivery";
import { api, createTenant, expectError, receiver, type Tenant, uniqueKey, webhookBody } from "../helpers/harness";

/**
 * "Exact data, or a clear error": what a publisher sends arrives digit for digit and key for
 * key, or the publish is refused with a 4xx naming the field. Each case goes through HTTP,
 * and accepted ones through a real delivery checked by the guide's own Python verifier.
 */

/** The example data of query.created as JSON text, with `extra` (raw JSON members) appended. */
const dataWith = (extra: string) => `${JSON.stringify(exampleData("query.created")).slice(0, -1)},${extra}}`;

/** A publish body of query.created whose data is the example plus `extra`, as JSON text. */
const createdWith = (extra: string) => `{"event":"query.created","data":${dataWith(extra)}}`;

/** A publish body of query.created with the example data, `priority` replaced. */
const createdWithPriority = (priority: number) => JSON.stringify({ event: "query.created", data: { ...exampleData("query.created"), priority } });

const publishRaw = (tenant: Tenant, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  api("/api/v1/events", { method: "POST", key: tenant.key, body, headers: { "Content-Type": "application/json", ...headers } });

async function publishedRaw(tenant: Tenant, body: string, headers: Record<string, string> = {}) {
  const res = await publishRaw(tenant, body, headers);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return JSON.parse(text) as { event_id: string; replayed: boolean };
}

/** The guide's Python verify_webhook_signature (test/setup/guide-verifiers.ts) on each delivery. */
async function pythonAccepts(deliveries: { body: string; headers: Record<string, string> }[], secret: string): Promise<boolean[]> {
  const cases = deliveries.map((d) => ({ body: d.body, signature: d.headers["x-webhook-signature"], secret }));
  const res = await fetch(`http://localhost:${inject("guideVerifierPort")}/verify`, { method: "POST", body: JSON.stringify(cases) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { python: boolean }[]).map((v) => v.python);
}

const storedData = async (eventId: string) => (await env.DB.prepare("SELECT data FROM events WHERE id = ?").bind(eventId).first<{ data: string }>())!.data;

async function tenantWithReceiver() {
  const tenant = await createTenant();
  const key = uniqueKey("exact");
  const webhook = await receiverWebhook(tenant, key);
  return { tenant, key, webhook };
}

async function expectNothingStored(tenant: Tenant) {
  expect(await storedEventCount(tenant.id)).toBe(0);
  expect(await storedDeliveryCount(tenant.id)).toBe(0);
}

describe("big integers arrive digit for digit", () => {
  it("beyond 2^53, at any depth: stored and delivered exactly, and the guide's Python verifier accepts the signature", async () => {
    const { tenant, key, webhook } = await tenantWithReceiver();
    const huge = `9${"0".repeat(4299)}`; // 4,300 digits: the most Python's int reads
    const members = [
      `"amount":123456789012345678901`,
      `"ids":[9007199254740993,-123456789012345678901234567890,9007199254740991,1e21,0.1]`,
      `"nested":{"big":18446744073709551616,"neg":-9223372036854775809}`,
      `"huge":${huge}`,
    ];
    const { event_id } = await publishedRaw(tenant, createdWith(members.join(",")));

    const stored = await storedData(event_id);
    for (const member of members.filter((m) => !m.startsWith('"ids"'))) expect(stored).toContain(member);
    expect(stored).toContain(`"ids":[9007199254740993,-123456789012345678901234567890,9007199254740991,1e+21,0.1]`);

    const [delivery] = await receivedAtLeast(key, 1);
    expect(delivery.body).toContain('"amount":123456789012345678901,');
    // Canonical form: safe integers as today, floats as Python's repr, big integers as sent.
    expect(delivery.body).toContain('"ids":[9007199254740993,-123456789012345678901234567890,9007199254740991,1e+21,0.1]');
    expect(delivery.body).toContain('"nested":{"big":18446744073709551616,"neg":-9223372036854775809}');
    expect(delivery.body).toContain(`"huge":${huge},`);
    expect(await pythonAccepts([delivery], webhook.secret_key)).toEqual([true]);
  });

  it("read back exactly too: the event's detail and the event log", async () => {
    const { tenant } = await tenantWithReceiver();
    const members = [`"amount":123456789012345678901`, `"ids":[9007199254740993,-123456789012345678901234567890,0.1]`];
    const { event_id } = await publishedRaw(tenant, createdWith(members.join(",")));
    const answers = [`/api/v1/events/${event_id}`, "/api/v1/events"];
    for (const path of answers) {
      const res = await api(path, { key: tenant.key });
      const text = await res.text();
      expect(res.status, `${path}: ${text}`).toBe(200);
      expect(res.headers.get("Content-Type"), path).toContain("application/json");
      for (const member of members) expect(text, path).toContain(member);
    }
  });

  it("zod still checks the shape: a big integer where a small one is required is 422 naming the field", async () => {
    const { tenant } = await tenantWithReceiver();
    const body = JSON.stringify({ event: "query.created", data: { ...exampleData("query.created"), priority: 0 } }).replace(
      '"priority":0',
      '"priority":123456789012345678901',
    );
    const error = await expectError(await publishRaw(tenant, body), 422, "validation_failed");
    expect(new Set(error.fields?.map((f) => f.field))).toEqual(new Set(["data.priority"]));
    await expectNothingStored(tenant);
  });

  it("an integer longer than Python reads (4,300 digits) is 422 naming the field", async () => {
    const { tenant } = await tenantWithReceiver();
    const error = await expectError(await publishRaw(tenant, createdWith(`"list":[1,-${"9".repeat(4301)}]`)), 422, "validation_failed");
    expect(error.fields).toEqual([{ field: "data.list.1", message: "an integer of 4301 digits; at most 4300 digits are accepted" }]);
    await expectNothingStored(tenant);
  });
});

describe("numbers that are not finite are refused, naming the field", () => {
  it.each([
    ["1e400", `"amount":1e400`, "data.amount"],
    ["-1e400 in a list", `"list":[1,-1e400]`, "data.list.1"],
    ["1.5E+309 nested", `"a":{"b":1.5E+309}`, "data.a.b"],
  ])("%s: 422 validation_failed", async (_case, member, field) => {
    const { tenant, key } = await tenantWithReceiver();
    const error = await expectError(await publishRaw(tenant, createdWith(member)), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
    expect(error.message).toContain(`${field}: `);
    expect(error.message).toContain("not a finite number");
    await expectNothingStored(tenant);
    expect(await receiver.requests(key)).toEqual([]);
  });

  it("on every JSON route, not only publishing", async () => {
    const tenant = await createTenant();
    const body = JSON.stringify(webhookBody({ rate_limit_per_second: 0 })).replace('"rate_limit_per_second":0', '"rate_limit_per_second":1e400');
    const res = await api("/api/v1/webhooks", { method: "POST", key: tenant.key, body, headers: { "Content-Type": "application/json" } });
    const error = await expectError(res, 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual(["rate_limit_per_second"]);
  });
});

describe('"__proto__" is an ordinary key, kept and delivered at every level', () => {
  it("at the top of data, nested and in lists", async () => {
    const { tenant, key, webhook } = await tenantWithReceiver();
    const extra = `"__proto__":{"polluted":true},"nested":{"__proto__":"kept"},"list":[{"__proto__":null}]`;
    const { event_id } = await publishedRaw(tenant, createdWith(extra));

    expect(await storedData(event_id)).toBe(dataWith(extra));
    const [delivery] = await receivedAtLeast(key, 1);
    expect(delivery.body).toContain('"data":{"__proto__":{"polluted":true},"category":"Technical",');
    expect(delivery.body).toContain('"nested":{"__proto__":"kept"}');
    expect(delivery.body).toContain('"list":[{"__proto__":null}]');
    expect(await pythonAccepts([delivery], webhook.secret_key)).toEqual([true]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a non-object value too", async () => {
    const { tenant, key } = await tenantWithReceiver();
    await publishedRaw(tenant, createdWith(`"__proto__":5`));
    const [delivery] = await receivedAtLeast(key, 1);
    expect(delivery.body).toContain('"data":{"__proto__":5,');
  });
});

describe("bodies that are not exactly JSON: 400 invalid_json", () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const withByte = (text: string, marker: string, byte: number) => {
    const [before, after] = text.split(marker).map(utf8);
    return new Uint8Array([...before, byte, ...after]);
  };

  it("an invalid UTF-8 byte (not replaced by U+FFFD)", async () => {
    const { tenant, key } = await tenantWithReceiver();
    const body = withByte(createdWith(`"note":"caf@"`), "@", 0xff);
    const error = await expectError(await publishRaw(tenant, body), 400, "invalid_json");
    expect(error.message).toBe("Request body is not valid UTF-8");
    await expectNothingStored(tenant);
    expect(await receiver.requests(key)).toEqual([]);
  });

  it("an invalid UTF-8 byte on another JSON route", async () => {
    const tenant = await createTenant();
    const body = withByte(JSON.stringify(webhookBody({ description: "x@" })), "@", 0xc3);
    const res = await api("/api/v1/webhooks", { method: "POST", key: tenant.key, body, headers: { "Content-Type": "application/json" } });
    await expectError(res, 400, "invalid_json");
  });

  it("a key repeated with another value (JSON.parse would keep the last one silently)", async () => {
    const { tenant } = await tenantWithReceiver();
    const error = await expectError(await publishRaw(tenant, createdWith(`"priority":1`)), 400, "invalid_json");
    expect(error.message).toContain("Duplicate key 'priority'");
    await expectNothingStored(tenant);
  });

  it("valid UTF-8 in any script is accepted (the check is UTF-8, not ASCII)", async () => {
    const { tenant, key } = await tenantWithReceiver();
    await publishedRaw(tenant, createdWith(`"note":"Grüße 😀 漢字"`));
    const [delivery] = await receivedAtLeast(key, 1);
    expect(delivery.body).toContain('"note":"Gr\\u00fc\\u00dfe \\ud83d\\ude00 \\u6f22\\u5b57"');
  });

  it("brackets and escaped quotes inside strings are text, not nesting", async () => {
    const { tenant, key } = await tenantWithReceiver();
    const text = `${"[{".repeat(100)} \\" ${"]}".repeat(3)}`;
    await publishedRaw(tenant, createdWith(`"note":${JSON.stringify(text)}`));
    const [delivery] = await receivedAtLeast(key, 1);
    expect(JSON.parse(delivery.body).data.note).toBe(text);
  });

  it("a body nested thousands of levels deep is refused, not a crash", async () => {
    const { tenant } = await tenantWithReceiver();
    const error = await expectError(await publishRaw(tenant, createdWith(`"deep":${"[".repeat(5_000)}${"]".repeat(5_000)}`)), 422, "validation_failed");
    expect(error.fields).toEqual([{ field: "(body)", message: "nested more than 64 levels deep" }]);
  });
});

describe("Idempotency-Key: the same request replays, another is refused, for 24 hours", () => {
  const DAY_MS = 24 * 60 * 60 * 1000;

  it("another request with the key: 422 idempotency_key_reused, nothing new stored or sent", async () => {
    const { tenant, key } = await tenantWithReceiver();
    const headers = { "Idempotency-Key": `reuse-${key}` };
    const first = await published(tenant, "query.created", exampleData("query.created"), headers);
    await receivedAtLeast(key, 1);

    for (const other of [createdWithPriority(1), JSON.stringify({ event: "query.escalated", data: exampleData("query.escalated") })]) {
      const error = await expectError(await publishRaw(tenant, other, headers), 422, "idempotency_key_reused");
      expect(error.message).toContain(`reuse-${key}`);
    }
    // The same request again still replays.
    expect(await published(tenant, "query.created", exampleData("query.created"), headers)).toEqual({ ...first, replayed: true });
    expect(await storedEventCount(tenant.id)).toBe(1);
    expect(await receiver.requests(key)).toHaveLength(1);
  });

  it("big integers count digit for digit: two that round to the same double are different requests", async () => {
    const { tenant } = await tenantWithReceiver();
    const headers = { "Idempotency-Key": `digits-${uniqueKey()}` };
    const first = await publishedRaw(tenant, createdWith(`"amount":123456789012345678901`), headers);
    expect(first.replayed).toBe(false);
    // Key order and spacing do not make another request.
    const reordered = `{ "data": ${dataWith(`"amount" : 123456789012345678901`)}, "event": "query.created" }`;
    const replay = await publishedRaw(tenant, reordered, headers);
    expect(replay).toMatchObject({ event_id: first.event_id, replayed: true });
    await expectError(await publishRaw(tenant, createdWith(`"amount":123456789012345678902`), headers), 422, "idempotency_key_reused");
    expect(await storedEventCount(tenant.id)).toBe(1);
  });

  it("after 24 hours the key names a new event (and the old one lets it go)", async () => {
    const { tenant, key } = await tenantWithReceiver();
    const headers = { "Idempotency-Key": `expiring-${key}` };
    const first = await published(tenant, "query.created", exampleData("query.created"), headers);
    await receivedAtLeast(key, 1);
    // Just under 24 h old: still the same key.
    await env.DB.prepare("UPDATE events SET created_at = ? WHERE id = ?")
      .bind(Date.now() - DAY_MS + 60_000, first.event_id)
      .run();
    await expectError(await publishRaw(tenant, createdWithPriority(2), headers), 422, "idempotency_key_reused");

    await env.DB.prepare("UPDATE events SET created_at = ? WHERE id = ?")
      .bind(Date.now() - DAY_MS - 1_000, first.event_id)
      .run();
    const second = await publishedRaw(tenant, createdWithPriority(1), headers);

    expect(second).toMatchObject({ replayed: false });
    expect(second.event_id).not.toBe(first.event_id);
    const rows = await env.DB.prepare("SELECT id, idempotency_key, request_hash FROM events WHERE tenant_id = ? ORDER BY id").bind(tenant.id).all();
    expect(rows.results).toEqual([
      { id: first.event_id, idempotency_key: null, request_hash: null },
      { id: second.event_id, idempotency_key: `expiring-${key}`, request_hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    const deliveries = await receivedAtLeast(key, 2);
    expect(JSON.parse(deliveries[1].body).data.priority).toBe(1);
    // From now on the key names the new event: its request replays, the first one is refused.
    expect(await publishedRaw(tenant, createdWithPriority(1), headers)).toMatchObject({ event_id: second.event_id, replayed: true });
    await expectError(await publishRaw(tenant, createdWithPriority(7), headers), 422, "idempotency_key_reused");
  });
});
