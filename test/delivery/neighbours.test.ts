import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  consume,
  deliveryDetail,
  deliveryLog,
  eventually,
  insertDelivery,
  job,
  manyWebhooks,
  published,
  receivedAtLeast,
  receiverWebhook,
} from "../helpers/delivery";
import { createTenant, receiver, uniqueKey } from "../helpers/harness";

/** The tests' attempt timeout (vitest.config.ts): a hanging request ends this long after it was received. */
const TIMEOUT_MS = 3000;

describe("no delivery waits on its neighbours", () => {
  it("a retry goes out, and a success is logged, while a batch-mate's attempt still hangs", async () => {
    const tenant = await createTenant();
    const [hang, failing, healthy] = [uniqueKey("hang"), uniqueKey("fail"), uniqueKey("ok")];
    const hanging = await receiverWebhook(tenant, hang, "hang");
    const failingHook = await receiverWebhook(tenant, failing, "500,200");
    const healthyHook = await receiverWebhook(tenant, healthy, "200");
    await published(tenant, "query.created"); // one event, one job: all three share a batch

    await receivedAtLeast(hang, 1);
    // The retry went out, and the healthy delivery is in the log, while the hanging attempt still
    // runs: its result (a timeout, DELIVERY_TIMEOUT_MS after it started) is not recorded yet.
    await receivedAtLeast(failing, 2);
    const [ok] = await eventually(async () => {
      const log = await deliveryLog(tenant, healthyHook.id);
      return log[0]?.status === "success" ? log : null;
    });
    expect((await deliveryLog(tenant, hanging.id)).filter((d) => d.attempts > 0)).toEqual([]);
    expect(ok.attempts).toBe(1);

    const failed = await eventually(async () => {
      const [d] = await deliveryLog(tenant, failingHook.id);
      return d?.status === "success" ? d : null;
    });
    expect(failed.attempts).toBe(2);
    // The hanging endpoint went to the slow lane, and its attempt was still recorded.
    const [slow] = await eventually(async () => {
      const log = await deliveryLog(tenant, hanging.id);
      return log[0]?.attempts >= 1 ? log : null;
    });
    expect(slow.last_error).toBe(`Timed out after ${TIMEOUT_MS} ms`);
    const row = await env.DB.prepare("SELECT slow_until FROM webhooks WHERE id = ?").bind(hanging.id).first<{ slow_until: number | null }>();
    expect(row?.slow_until).toBeGreaterThan(Date.now());
  });

  it("tenant B is delivered while tenant A's endpoints still hang", async () => {
    const noisy = await createTenant();
    const quiet = await createTenant();
    const hang = uniqueKey("noisy");
    await manyWebhooks(noisy, 12, receiver.url(hang, "hang"));
    const calm = uniqueKey("quiet");
    await receiverWebhook(quiet, calm, "200");
    await published(noisy, "query.created");
    await published(noisy, "query.created");
    const [firstHang] = await receivedAtLeast(hang, 6); // six connections are hanging now
    await published(quiet, "query.created");
    const [received] = await receivedAtLeast(calm, 1);
    expect(received.received_at).toBeLessThan(firstHang.received_at + TIMEOUT_MS);
  });

  it("an undecryptable secret fails its own delivery only", async () => {
    const tenant = await createTenant();
    const [good, bad] = [uniqueKey("good"), uniqueKey("bad")];
    const goodHook = await receiverWebhook(tenant, good, "200");
    const badHook = await receiverWebhook(tenant, bad, "200");
    await env.DB.prepare("UPDATE webhooks SET secret_encrypted = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE id = ?").bind(badHook.id).run();
    await published(tenant, "query.created");

    const [broken] = await eventually(async () => {
      const log = await deliveryLog(tenant, badHook.id);
      return log[0]?.status === "failed" ? log : null;
    });
    expect(broken).toMatchObject({ attempts: 1, last_status_code: null });
    expect(broken.last_error).toMatch(/Signing secret cannot be decrypted/);
    const [delivered] = await eventually(async () => {
      const log = await deliveryLog(tenant, goodHook.id);
      return log[0]?.status === "success" ? log : null;
    });
    expect((await deliveryDetail(tenant, goodHook.id, delivered.id)).attempt_log).toHaveLength(1);
    expect(await receiver.requests(bad)).toHaveLength(0);
    expect(await receiver.requests(good)).toHaveLength(1);
  });
});

describe("a delivery that can never be made fails alone, with a clear last_error", () => {
  it("a URL the policy now refuses (an http://localhost webhook under ENVIRONMENT=production)", async () => {
    const tenant = await createTenant();
    const [refusedKey, fineKey] = [uniqueKey("refused"), uniqueKey("fine")];
    const refused = await receiverWebhook(tenant, refusedKey, "200");
    const fine = await receiverWebhook(tenant, fineKey, "200");
    // The second webhook's URL is made acceptable to production by pointing the check at a public name.
    await env.DB.prepare("UPDATE webhooks SET url = 'https://hooks.example.invalid/hr' WHERE id = ?").bind(fine.id).run();
    const a = await insertDelivery(tenant, refused.id);
    const b = await insertDelivery(tenant, fine.id);

    const result = await consume([job(refused.id, a.deliveryId), job(fine.id, b.deliveryId)], { ENVIRONMENT: "production" });

    expect(result.explicitAcks).toEqual(["msg-1", "msg-2"]);
    const failed = await deliveryDetail(tenant, refused.id, a.deliveryId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, last_status_code: null });
    expect(failed.last_error).toMatch(/^Webhook URL refused: /);
    expect(await receiver.requests(refusedKey)).toHaveLength(0);
    // The other delivery was attempted (its public name does not resolve here, so it is retried).
    expect((await deliveryDetail(tenant, fine.id, b.deliveryId)).attempts).toBe(1);
  });
});
