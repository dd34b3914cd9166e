import { env } from "cloudflare:workers";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, inject, it, vi } from "vitest";
import { deliveryLog, eventually, exampleData, published, receivedAtLeast, receiverWebhook } from "../helpers/delivery";
import {
  api,
  createTenant,
  createWebhook,
  expectError,
  GUIDE_TIMESTAMP,
  rawJson,
  receiver,
  storedWebhook,
  type Tenant,
  uniqueKey,
  type WebhookCreated,
} from "../helpers/harness";
import type { ReceivedRequest } from "../setup/receiver";

/**
 * Secret rotation (POST /webhooks/{id}/rotate-secret) through HTTP, and real deliveries
 * during and after the overlap, verified as receivers do: with the standardwebhooks package
 * and with the integration guide's own Python and Node examples (test/setup/guide-verifiers.ts).
 */

interface Rotated extends WebhookCreated {
  previous_secret_expires_at: string | null;
}

interface StoredSecrets {
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: number | null;
  updated_at: number;
}

const DAY_MS = 86_400_000;

const rotate = (tenant: Tenant, webhookId: string, init: { json?: unknown; body?: string; headers?: Record<string, string> } = {}) =>
  api(`/api/v1/webhooks/${webhookId}/rotate-secret`, { method: "POST", key: tenant.key, ...init });

async function rotated(tenant: Tenant, webhookId: string, json?: unknown): Promise<Rotated> {
  const res = await rotate(tenant, webhookId, json === undefined ? {} : { json });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Rotated;
}

const stored = async (webhookId: string) => (await storedWebhook(webhookId)) as unknown as StoredSecrets;

const standardHeaders = (request: ReceivedRequest) => ({
  "webhook-id": request.headers["webhook-id"],
  "webhook-timestamp": request.headers["webhook-timestamp"],
  "webhook-signature": request.headers["webhook-signature"],
});

/** What a Standard Webhooks receiver holding only `secret` decides (the package throws on a mismatch). */
function standardVerifies(secret: string, request: ReceivedRequest): boolean {
  try {
    new Webhook(secret, { format: "raw" }).verify(request.body, standardHeaders(request));
    return true;
  } catch {
    return false;
  }
}

const hmacHex = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("hex");

interface GuideVerdict {
  python: boolean;
  node: boolean;
}

/** The guide's Python and Node verifiers, run unchanged, on X-Webhook-Signature with `secret`. */
async function guideVerdicts(requests: ReceivedRequest[], secret: string): Promise<GuideVerdict[]> {
  const cases = requests.map((r) => ({ body: r.body, signature: r.headers["x-webhook-signature"], secret }));
  const res = await fetch(`http://localhost:${inject("guideVerifierPort")}/verify`, { method: "POST", body: JSON.stringify(cases) });
  expect(res.status).toBe(200);
  return (await res.json()) as GuideVerdict[];
}

const ACCEPTED: GuideVerdict = { python: true, node: true };
const REFUSED: GuideVerdict = { python: false, node: false };

/** The order of an event in a stream, carried in its data. */
const seqOf = (request: ReceivedRequest) => (JSON.parse(request.body) as { data: { seq: number } }).data.seq;
const publishSeq = (tenant: Tenant, seq: number) => published(tenant, "query.created", { ...exampleData("query.created"), seq });

/** POST /webhooks/{id}/test and the request the receiver got for it. */
async function testDelivery(tenant: Tenant, webhookId: string, key: string): Promise<ReceivedRequest> {
  const before = (await receiver.requests(key)).length;
  const res = await api(`/api/v1/webhooks/${webhookId}/test`, { method: "POST", key: tenant.key });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ success: true, status_code: 200 });
  const requests = await receivedAtLeast(key, before + 1);
  return requests[before];
}

describe("POST /api/v1/webhooks/{id}/rotate-secret", () => {
  it("without a body: a new secret_key, shown only here; the old secret keeps signing for a day", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const before = await stored(webhook.id);

    const startedAt = Date.now();
    const res = await rotate(tenant, webhook.id);
    const endedAt = Date.now();
    expect(res.status).toBe(200);
    const body = (await res.json()) as Rotated;

    expect(body.secret_key).toMatch(/^wsk_live_[A-Za-z0-9_-]{43}$/);
    expect(body.secret_key).not.toBe(webhook.secret_key);
    const { secret_key: _new, previous_secret_expires_at: expiresAt, ...view } = body;
    const { secret_key: _old, ...created } = webhook;
    expect(view).toEqual({ ...created, updated_at: expect.stringMatching(GUIDE_TIMESTAMP) });
    expect(await (await api(`/api/v1/webhooks/${webhook.id}`, { key: tenant.key })).json()).toEqual(view);
    expect(expiresAt).toMatch(GUIDE_TIMESTAMP);
    expect(Date.parse(expiresAt!)).toBeGreaterThanOrEqual(Math.floor((startedAt + DAY_MS) / 1000) * 1000);
    expect(Date.parse(expiresAt!)).toBeLessThanOrEqual(endedAt + DAY_MS);

    const after = await stored(webhook.id);
    // The old secret moves as it was sealed; the new one is sealed anew, naming its key.
    expect(after.previous_secret_encrypted).toBe(before.secret_encrypted);
    expect(after.previous_secret_expires_at).toBeGreaterThanOrEqual(startedAt + DAY_MS);
    expect(after.previous_secret_expires_at).toBeLessThanOrEqual(endedAt + DAY_MS);
    expect(after.secret_encrypted).not.toBe(before.secret_encrypted);
    expect(after.secret_encrypted).toMatch(/^k1:[0-9a-f]{8}:/);
    expect(JSON.stringify(after)).not.toContain(body.secret_key.slice("wsk_live_".length));
  });

  it("takes {} and overlap_seconds from 0 to 604,800; 0 keeps no previous secret", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);

    const startedAt = Date.now();
    const week = await rotated(tenant, webhook.id, { overlap_seconds: 604_800 });
    expect(Date.parse(week.previous_secret_expires_at!)).toBeGreaterThanOrEqual(Math.floor((startedAt + 7 * DAY_MS) / 1000) * 1000);
    expect(Date.parse(week.previous_secret_expires_at!)).toBeLessThanOrEqual(Date.now() + 7 * DAY_MS);

    const byDefault = await rotated(tenant, webhook.id, {});
    expect(Date.parse(byDefault.previous_secret_expires_at!)).toBeLessThanOrEqual(Date.now() + DAY_MS);
    expect(Date.parse(byDefault.previous_secret_expires_at!)).toBeGreaterThan(Date.now() + DAY_MS - 60_000);

    const before = await stored(webhook.id);
    const now = await rotated(tenant, webhook.id, { overlap_seconds: 0 });
    expect(now.previous_secret_expires_at).toBeNull();
    const after = await stored(webhook.id);
    expect(after).toMatchObject({ previous_secret_encrypted: null, previous_secret_expires_at: null });
    expect(after.secret_encrypted).not.toBe(before.secret_encrypted);
  });

  it("a second rotation during the overlap: the current secret becomes the previous one, the older one is dropped", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const original = await stored(webhook.id);
    await rotated(tenant, webhook.id);
    const first = await stored(webhook.id);

    await rotated(tenant, webhook.id, { overlap_seconds: 60 });
    const second = await stored(webhook.id);
    expect(second.previous_secret_encrypted).toBe(first.secret_encrypted);
    expect(second.previous_secret_expires_at).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(JSON.stringify(second)).not.toContain(original.secret_encrypted);
  });

  it.each([
    ["below 0", -1],
    ["above 604,800", 604_801],
    ["not whole", 1.5],
    ["a string", "3600"],
    ["null", null],
    ["a boolean", true],
  ])("refuses overlap_seconds %s with 422 naming the field, changing nothing", async (_label, value) => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const before = await stored(webhook.id);
    const error = await expectError(await rotate(tenant, webhook.id, { json: { overlap_seconds: value } }), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual(["overlap_seconds"]);
    expect(error.message).toMatch(/^overlap_seconds: /);
    expect(await stored(webhook.id)).toEqual(before);
  });

  it("refuses malformed JSON with 400 and a body that is not JSON with 415", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const before = await stored(webhook.id);
    await expectError(await rotate(tenant, webhook.id, rawJson("{")), 400, "invalid_json");
    await expectError(
      await rotate(tenant, webhook.id, { body: "overlap_seconds=5", headers: { "Content-Type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    expect(await stored(webhook.id)).toEqual(before);
  });

  it("404 for another tenant's, a deleted, an unknown or a malformed id; nothing changes", async () => {
    const [owner, other] = [await createTenant(), await createTenant()];
    const webhook = await createWebhook(owner);
    const deleted = await createWebhook(owner);
    expect((await api(`/api/v1/webhooks/${deleted.id}`, { method: "DELETE", key: owner.key })).status).toBe(204);
    const [before, deletedBefore] = [await stored(webhook.id), await stored(deleted.id)];

    await expectError(await rotate(other, webhook.id), 404, "not_found");
    await expectError(await rotate(owner, deleted.id), 404, "not_found");
    await expectError(await rotate(owner, "00000000-0000-4000-8000-000000000000"), 404, "not_found");
    await expectError(await rotate(owner, "not-a-uuid"), 404, "not_found");
    expect(await stored(webhook.id)).toEqual(before);
    expect(await stored(deleted.id)).toEqual(deletedBefore);
  });

  it("the new secret_key appears in no other response", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const { secret_key } = await rotated(tenant, webhook.id);
    for (const res of [
      await api(`/api/v1/webhooks/${webhook.id}`, { key: tenant.key }),
      await api("/api/v1/webhooks", { key: tenant.key }),
      await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { description: "after rotation" } }),
    ]) {
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain("secret");
      expect(text).not.toContain(secret_key);
    }
  });

  it("is documented in the OpenAPI document with its body and answers", async () => {
    const doc = (await (await api("/openapi.json")).json()) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> }; responses: Record<string, unknown> }>
      >;
      components: {
        schemas: Record<string, { properties: Record<string, { minimum?: number; maximum?: number }>; allOf?: { $ref?: string; required?: string[] }[] }>;
      };
    };
    const operation = doc.paths["/api/v1/webhooks/{id}/rotate-secret"].post;
    expect(operation.requestBody?.required).toBe(false);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "404", "413", "415", "422"]));
    expect(doc.components.schemas.RotateSecret.properties.overlap_seconds).toMatchObject({ minimum: 0, maximum: 604_800 });
    // The webhook view and the two fields only this answer has.
    expect(doc.components.schemas.RotatedSecret.allOf).toEqual([
      { $ref: "#/components/schemas/Webhook" },
      expect.objectContaining({ required: ["secret_key", "previous_secret_expires_at"] }),
    ]);
  });
});

describe("deliveries during and after the overlap", () => {
  it("a rotation in the middle of a stream: receivers holding only the old or only the new secret verify every delivery of the window", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("stream");
    const webhook = await receiverWebhook(tenant, key);
    const oldSecret = webhook.secret_key;

    // Events before, then the rotation while their deliveries are still on their way, then events after.
    for (let seq = 0; seq < 5; seq++) await publishSeq(tenant, seq);
    const { secret_key: newSecret } = await rotated(tenant, webhook.id, { overlap_seconds: 3600 });
    for (let seq = 5; seq < 10; seq++) await publishSeq(tenant, seq);

    const during = (await receivedAtLeast(key, 10)).sort((a, b) => seqOf(a) - seqOf(b));
    expect(during.map(seqOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const request of during) {
      const seq = seqOf(request);
      const signatures = request.headers["webhook-signature"].split(" ");
      // A delivery made before the rotation carries the old secret's signature alone.
      if (seq >= 5) expect(signatures, `seq ${seq}`).toHaveLength(2);
      expect(standardVerifies(oldSecret, request), `old secret, seq ${seq}`).toBe(true);
      if (signatures.length === 2) {
        expect(standardVerifies(newSecret, request), `new secret, seq ${seq}`).toBe(true);
        // The new secret's signature first.
        expect(standardVerifies(newSecret, { ...request, headers: { ...request.headers, "webhook-signature": signatures[0] } })).toBe(true);
      }
      expect(request.headers["x-webhook-signature"], `guide signature, seq ${seq}`).toBe(hmacHex(oldSecret, request.body));
    }
    expect(await guideVerdicts(during, oldSecret)).toEqual(during.map(() => ACCEPTED));
    expect(await guideVerdicts(during, newSecret)).toEqual(during.map(() => REFUSED));

    // The window ends (as if its hour had passed): the new secret alone, for both schemes.
    await env.DB.prepare("UPDATE webhooks SET previous_secret_expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, webhook.id)
      .run();
    for (let seq = 10; seq < 13; seq++) await publishSeq(tenant, seq);
    const after = (await receivedAtLeast(key, 13)).filter((r) => seqOf(r) >= 10);
    expect(after).toHaveLength(3);
    for (const request of after) {
      expect(request.headers["webhook-signature"].split(" ")).toHaveLength(1);
      expect(standardVerifies(newSecret, request)).toBe(true);
      expect(standardVerifies(oldSecret, request)).toBe(false);
      expect(request.headers["x-webhook-signature"]).toBe(hmacHex(newSecret, request.body));
    }
    expect(await guideVerdicts(after, newSecret)).toEqual(after.map(() => ACCEPTED));
    expect(await guideVerdicts(after, oldSecret)).toEqual(after.map(() => REFUSED));

    const log = await eventually(async () => {
      const entries = await deliveryLog(tenant, webhook.id);
      return entries.length === 13 && entries.every((d) => d.status !== "pending") ? entries : null;
    });
    expect(log.every((d) => d.status === "success")).toBe(true);
  });

  it("the test endpoint signs with both secrets during the overlap, with the new one alone once it has really expired", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("test-endpoint");
    const webhook = await receiverWebhook(tenant, key);
    const rotation = await rotated(tenant, webhook.id, { overlap_seconds: 1 });

    const during = await testDelivery(tenant, webhook.id, key);
    expect(during.headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect([standardVerifies(webhook.secret_key, during), standardVerifies(rotation.secret_key, during)]).toEqual([true, true]);
    expect(during.headers["x-webhook-signature"]).toBe(hmacHex(webhook.secret_key, during.body));

    // overlap_seconds: 1, so this waits about a second for the real end of the window.
    const expiresAt = Date.parse(rotation.previous_secret_expires_at!) + 1000;
    await vi.waitUntil(() => Date.now() > expiresAt, { timeout: 5000, interval: 50 });
    const after = await testDelivery(tenant, webhook.id, key);
    expect(after.headers["webhook-signature"].split(" ")).toHaveLength(1);
    expect([standardVerifies(webhook.secret_key, after), standardVerifies(rotation.secret_key, after)]).toEqual([false, true]);
    expect(after.headers["x-webhook-signature"]).toBe(hmacHex(rotation.secret_key, after.body));
  });

  it("overlap_seconds: 0 switches at once; a second rotation during an overlap signs with the two newest secrets", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("rotations");
    const webhook = await receiverWebhook(tenant, key);

    const immediate = await rotated(tenant, webhook.id, { overlap_seconds: 0 });
    const atOnce = await testDelivery(tenant, webhook.id, key);
    expect(atOnce.headers["webhook-signature"].split(" ")).toHaveLength(1);
    expect([standardVerifies(webhook.secret_key, atOnce), standardVerifies(immediate.secret_key, atOnce)]).toEqual([false, true]);
    expect(atOnce.headers["x-webhook-signature"]).toBe(hmacHex(immediate.secret_key, atOnce.body));

    const first = await rotated(tenant, webhook.id);
    const second = await rotated(tenant, webhook.id);
    await publishSeq(tenant, 0);
    const [, delivered] = await receivedAtLeast(key, 2);
    const secrets = [immediate.secret_key, first.secret_key, second.secret_key];
    expect(delivered.headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(secrets.map((s) => standardVerifies(s, delivered))).toEqual([false, true, true]);
    expect(delivered.headers["x-webhook-signature"]).toBe(hmacHex(first.secret_key, delivered.body));
  });
});
