import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import { decryptSecret, encryptionKeyId, encryptSecret, toBase64 } from "../../src/lib/crypto";
import { RESEAL_CHUNK_SIZE, resealSecrets } from "../../src/services/secret-reseal";
import { consume, deliveryDetail, insertDelivery, job, worker } from "../helpers/delivery";
import { apiWithEnv, createTenant, receiver, storedWebhook, type Tenant, uniqueKey, type WebhookCreated, webhookBody } from "../helpers/harness";
import type { ReceivedRequest } from "../setup/receiver";

/**
 * A change of SECRET_ENCRYPTION_KEY: values sealed under the old key (now
 * SECRET_ENCRYPTION_KEY_PREVIOUS) still sign deliveries, and the cron's re-seal job moves
 * them to the new key in chunks. Each test uses its own pair of keys, so the job's counts
 * are exact although the file's webhooks share one database.
 */

const newKey = () => toBase64(crypto.getRandomValues(new Uint8Array(32)));

function keyChange() {
  const [oldKey, newKeyValue] = [newKey(), newKey()];
  return {
    before: { SECRET_ENCRYPTION_KEY: oldKey },
    during: { SECRET_ENCRYPTION_KEY: newKeyValue, SECRET_ENCRYPTION_KEY_PREVIOUS: oldKey },
    after: { SECRET_ENCRYPTION_KEY: newKeyValue },
  };
}

type Keys = ReturnType<typeof keyChange>["during"];

const reseal = (keys: Partial<Keys>, now?: number) => resealSecrets(env, loadConfig({ ...env, ...keys }), now);

/** A webhook created while `keys` were configured, pointing at the receiver under `key`. */
async function webhookUnder(keys: { SECRET_ENCRYPTION_KEY: string }, tenant: Tenant, key: string): Promise<WebhookCreated> {
  const res = await apiWithEnv(keys, "/api/v1/webhooks", {
    method: "POST",
    key: tenant.key,
    json: webhookBody({ url: receiver.url(key), events: ["query.created"] }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as WebhookCreated;
}

interface Sealed {
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: number | null;
}

const sealedOf = async (webhookId: string) => (await storedWebhook(webhookId)) as unknown as Sealed;

const verifies = (secret: string, request: ReceivedRequest) => {
  const headers = {
    "webhook-id": request.headers["webhook-id"],
    "webhook-timestamp": request.headers["webhook-timestamp"],
    "webhook-signature": request.headers["webhook-signature"],
  };
  new Webhook(secret, { format: "raw" }).verify(request.body, headers); // throws on a mismatch
  expect(request.headers["x-webhook-signature"]).toBe(createHmac("sha256", secret).update(request.body).digest("hex"));
};

/** One delivery through the consumer with `keys` configured; the receiver's request for it (if any) and its log entry. */
async function deliverOnce(tenant: Tenant, webhookId: string, key: string, keys: Partial<Keys>) {
  const before = (await receiver.requests(key)).length;
  const { deliveryId } = await insertDelivery(tenant, webhookId);
  const result = await consume([job(webhookId, deliveryId)], keys);
  expect(result.explicitAcks).toEqual(["msg-1"]);
  const delivery = await deliveryDetail(tenant, webhookId, deliveryId);
  const requests = await receiver.requests(key);
  return { delivery, request: requests.length > before ? requests[before] : undefined };
}

describe("a change of SECRET_ENCRYPTION_KEY", () => {
  it("a webhook sealed under the previous key is delivered; after the re-seal its value names the new key and still verifies", async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const key = uniqueKey("key-change");
    const webhook = await webhookUnder(keys.before, tenant, key);
    const oldId = await encryptionKeyId(keys.before.SECRET_ENCRYPTION_KEY);
    const newId = await encryptionKeyId(keys.after.SECRET_ENCRYPTION_KEY);
    expect((await sealedOf(webhook.id)).secret_encrypted.startsWith(`k1:${oldId}:`)).toBe(true);

    // Without the previous key the secret cannot be opened: the delivery fails alone, saying so.
    const refused = await deliverOnce(tenant, webhook.id, key, keys.after);
    expect(refused.request).toBeUndefined();
    expect(refused.delivery).toMatchObject({ status: "failed", last_status_code: null });
    expect(refused.delivery.last_error).toBe("Signing secret cannot be decrypted (check SECRET_ENCRYPTION_KEY and SECRET_ENCRYPTION_KEY_PREVIOUS)");

    const during = await deliverOnce(tenant, webhook.id, key, keys.during);
    expect(during.delivery).toMatchObject({ status: "success", last_status_code: 200 });
    verifies(webhook.secret_key, during.request!);

    // The test endpoint opens it too.
    const tested = await apiWithEnv(keys.during, `/api/v1/webhooks/${webhook.id}/test`, { method: "POST", key: tenant.key });
    expect(await tested.json()).toMatchObject({ success: true, status_code: 200 });

    expect(await reseal(keys.during)).toEqual({ keyId: newId, resealed: 1, undecryptable: [] });
    const resealed = (await sealedOf(webhook.id)).secret_encrypted;
    expect(resealed.startsWith(`k1:${newId}:`)).toBe(true);
    expect(await decryptSecret(resealed, keys.after)).toBe(webhook.secret_key);
    // Nothing is left under the old key: the next run does nothing.
    expect(await reseal(keys.during)).toEqual({ keyId: newId, resealed: 0, undecryptable: [] });

    // The previous key can go: deliveries sign with the same secret as before.
    const after = await deliverOnce(tenant, webhook.id, key, keys.after);
    expect(after.delivery).toMatchObject({ status: "success", last_status_code: 200 });
    verifies(webhook.secret_key, after.request!);
  });

  it("re-seals both secret columns of a rotated webhook, keeping the overlap, and the delivery still carries both signatures", async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const key = uniqueKey("rotated");
    const webhook = await webhookUnder(keys.before, tenant, key);
    const rotation = await apiWithEnv(keys.before, `/api/v1/webhooks/${webhook.id}/rotate-secret`, {
      method: "POST",
      key: tenant.key,
      json: { overlap_seconds: 3600 },
    });
    const { secret_key: newSecret } = (await rotation.json()) as { secret_key: string };
    const before = await sealedOf(webhook.id);

    expect(await reseal(keys.during)).toMatchObject({ resealed: 1, undecryptable: [] });
    const after = await sealedOf(webhook.id);
    const newId = await encryptionKeyId(keys.after.SECRET_ENCRYPTION_KEY);
    expect(after.secret_encrypted.startsWith(`k1:${newId}:`)).toBe(true);
    expect(after.previous_secret_encrypted!.startsWith(`k1:${newId}:`)).toBe(true);
    expect(after.previous_secret_expires_at).toBe(before.previous_secret_expires_at);
    expect(await decryptSecret(after.secret_encrypted, keys.after)).toBe(newSecret);
    expect(await decryptSecret(after.previous_secret_encrypted!, keys.after)).toBe(webhook.secret_key);

    const { request } = await deliverOnce(tenant, webhook.id, key, keys.after);
    expect(request!.headers["webhook-signature"].split(" ")).toHaveLength(2);
    verifies(webhook.secret_key, request!); // the guide's header stays on the old secret during the overlap
    new Webhook(newSecret, { format: "raw" }).verify(request!.body, {
      "webhook-id": request!.headers["webhook-id"],
      "webhook-timestamp": request!.headers["webhook-timestamp"],
      "webhook-signature": request!.headers["webhook-signature"],
    });
  });

  it("drops a previous secret whose overlap has ended instead of re-sealing it", async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const webhook = await webhookUnder(keys.before, tenant, uniqueKey("expired"));
    await apiWithEnv(keys.before, `/api/v1/webhooks/${webhook.id}/rotate-secret`, { method: "POST", key: tenant.key, json: { overlap_seconds: 60 } });
    const { previous_secret_expires_at: expiresAt } = await sealedOf(webhook.id);

    expect(await reseal(keys.during, expiresAt! + 1)).toMatchObject({ resealed: 1, undecryptable: [] });
    expect(await sealedOf(webhook.id)).toMatchObject({ previous_secret_encrypted: null, previous_secret_expires_at: null });
  });

  it("moves values in the unversioned format, and leaves values it cannot open, logging their webhook ids only", async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const [legacy, lost] = [await webhookUnder(keys.before, tenant, uniqueKey("legacy")), await webhookUnder(keys.before, tenant, uniqueKey("lost"))];
    // As stored before key ids: the base64 part alone. One sealed under the old key, one under a key nobody has.
    const unversioned = (await sealedOf(legacy.id)).secret_encrypted.split(":")[2];
    const unknown = (await encryptSecret("wsk_live_lost", { SECRET_ENCRYPTION_KEY: newKey() })).split(":")[2];
    await env.DB.batch([
      env.DB.prepare("UPDATE webhooks SET secret_encrypted = ? WHERE id = ?").bind(unversioned, legacy.id),
      env.DB.prepare("UPDATE webhooks SET secret_encrypted = ? WHERE id = ?").bind(unknown, lost.id),
    ]);

    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const result = await reseal(keys.during);
      expect(result).toMatchObject({ resealed: 1, undecryptable: [lost.id] });
      const logged = errors.mock.calls.map((call) => call.join(" ")).join("\n");
      expect(logged).toContain(lost.id);
      for (const hidden of [unknown, unversioned, legacy.secret_key, keys.during.SECRET_ENCRYPTION_KEY, keys.during.SECRET_ENCRYPTION_KEY_PREVIOUS]) {
        expect(logged).not.toContain(hidden);
      }
    } finally {
      errors.mockRestore();
      // Leave no value that later runs in this file would try again.
      await env.DB.prepare("DELETE FROM webhooks WHERE id = ?").bind(lost.id).run();
    }
    const moved = (await sealedOf(legacy.id)).secret_encrypted;
    expect(moved.startsWith(`k1:${await encryptionKeyId(keys.after.SECRET_ENCRYPTION_KEY)}:`)).toBe(true);
    expect(await decryptSecret(moved, keys.after)).toBe(legacy.secret_key);
  });

  it(`re-seals at most ${RESEAL_CHUNK_SIZE} webhooks per run, in one read and one write`, async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const now = Date.now();
    const count = RESEAL_CHUNK_SIZE + 30;
    const sealed = await Promise.all(Array.from({ length: count }, (_, i) => encryptSecret(`wsk_live_chunk_${i}`, keys.before)));
    const ids = sealed.map(() => crypto.randomUUID());
    await env.DB.batch(
      sealed.map((value, i) =>
        env.DB.prepare(
          "INSERT INTO webhooks (id, tenant_id, url, events, secret_encrypted, created_at, updated_at) VALUES (?, ?, ?, '[\"query.created\"]', ?, ?, ?)",
        ).bind(ids[i], tenant.id, "https://hooks.example.com/chunk", value, now, now),
      ),
    );
    const statements: string[] = [];
    const metered = new Proxy(env.DB, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (prop === "prepare")
          return (query: string) => {
            statements.push(query);
            return target.prepare(query);
          };
        return typeof value === "function" ? value.bind(target) : value;
      },
    });

    expect(await resealSecrets({ ...env, DB: metered }, loadConfig({ ...env, ...keys.during }))).toMatchObject({ resealed: RESEAL_CHUNK_SIZE });
    expect(statements.map((s) => s.trim().split(/\s+/)[0])).toEqual(["SELECT", "UPDATE"]);
    expect(await reseal(keys.during)).toMatchObject({ resealed: count - RESEAL_CHUNK_SIZE });
    expect(await reseal(keys.during)).toMatchObject({ resealed: 0 });

    const newId = await encryptionKeyId(keys.after.SECRET_ENCRYPTION_KEY);
    const { results } = await env.DB.prepare("SELECT id, secret_encrypted FROM webhooks WHERE tenant_id = ?")
      .bind(tenant.id)
      .all<{ id: string; secret_encrypted: string }>();
    expect(results).toHaveLength(count);
    expect(results.every((r) => r.secret_encrypted.startsWith(`k1:${newId}:`))).toBe(true);
    const first = results.find((r) => r.id === ids[0])!;
    expect(await decryptSecret(first.secret_encrypted, keys.after)).toBe("wsk_live_chunk_0");
  });

  it("a failed write throws the driver's error without the sealed values drizzle would quote", async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const webhook = await webhookUnder(keys.before, tenant, uniqueKey("broken-d1"));
    const before = await sealedOf(webhook.id);
    const failingWrites = new Proxy(env.DB, {
      get(target, prop) {
        if (prop !== "prepare") {
          const value = Reflect.get(target, prop);
          return typeof value === "function" ? value.bind(target) : value;
        }
        return (query: string) => {
          if (!query.trim().startsWith("UPDATE")) return target.prepare(query);
          const fail = async () => {
            throw new Error("D1_ERROR: Network connection lost.");
          };
          const statement = { bind: () => statement, run: fail, all: fail, first: fail, raw: fail };
          return statement;
        };
      },
    });

    let error: Error | undefined;
    await resealSecrets({ ...env, DB: failingWrites }, loadConfig({ ...env, ...keys.during })).catch((e: Error) => (error = e));
    expect(error?.message).toBe("Re-sealing webhook secrets failed: D1_ERROR: Network connection lost.");
    expect(await sealedOf(webhook.id)).toEqual(before);
    // What the next run will do is unchanged: it moves the webhook.
    expect(await reseal(keys.during)).toMatchObject({ resealed: 1 });
  });

  it("runs in the cron, beside the sweep and the counter fold", async () => {
    const keys = keyChange();
    const tenant = await createTenant();
    const webhook = await webhookUnder(keys.before, tenant, uniqueKey("cron"));
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), { ...env, ...keys.during }, ctx);
    await waitOnExecutionContext(ctx);
    const newId = await encryptionKeyId(keys.after.SECRET_ENCRYPTION_KEY);
    expect((await sealedOf(webhook.id)).secret_encrypted.startsWith(`k1:${newId}:`)).toBe(true);
  });
});
