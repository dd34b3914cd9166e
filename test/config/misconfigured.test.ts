import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config";
import { consume, insertDelivery, job, receiverWebhook, storedDelivery, worker } from "../helpers/delivery";
import { apiWithEnv, createTenant, expectError, receiver, uniqueKey, webhookBody } from "../helpers/harness";

/**
 * A deployment with a wrong or missing var says what is wrong, by name, instead of running
 * on a silent default: the API answers 503 misconfigured, the consumer retries its batch
 * (no delivery is failed), the cron skips its run. Each is logged once per isolate.
 */
afterEach(() => vi.restoreAllMocks());

const misconfiguredLines = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map((call) => String(call[0])).filter((line) => line.includes('"type":"misconfigured"'));

describe("config parsing", () => {
  it("refuses a var that is set but not a positive number, naming it, rather than using the default", () => {
    const result = parseConfig({ DELIVERY_MAX_ATTEMPTS: "3x", RETENTION_SECONDS: "30d" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.variables).toEqual(["DELIVERY_MAX_ATTEMPTS", "RETENTION_SECONDS"]);
    expect(result.error.message).toContain('DELIVERY_MAX_ATTEMPTS must be a whole number greater than 0, got "3x"');
  });

  it("refuses an encryption key that is not base64 of 32 bytes without echoing it", () => {
    const result = parseConfig({ SECRET_ENCRYPTION_KEY: "hunter2" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.variables).toEqual(["SECRET_ENCRYPTION_KEY"]);
    expect(result.error.message).not.toContain("hunter2");
  });

  it("refuses an ENVIRONMENT other than production or development (a typo must not relax the URL policy silently)", () => {
    const result = parseConfig({ ENVIRONMENT: "prod" });
    expect(result.ok).toBe(false);
    expect(parseConfig({})).toMatchObject({ ok: true, config: { production: true } });
  });
});

describe("a misconfigured deployment", () => {
  it("answers 503 misconfigured naming the variable on the API, and logs it once", async () => {
    const tenant = await createTenant();
    const log = vi.spyOn(console, "error");
    const overrides = { DELIVERY_MAX_ATTEMPTS: "three-and-a-half" };
    for (const path of ["/api/v1/webhooks", "/api/v1/queries", "/api/v1/health"]) {
      const body = await expectError(await apiWithEnv(overrides, path, { key: tenant.key }), 503, "misconfigured");
      expect(body.message).toContain("DELIVERY_MAX_ATTEMPTS");
    }
    expect(misconfiguredLines(log)).toHaveLength(1);
    expect(JSON.parse(misconfiguredLines(log)[0])).toMatchObject({ where: "fetch", variables: ["DELIVERY_MAX_ATTEMPTS"] });
    // The document still loads: it describes the 503.
    expect((await apiWithEnv(overrides, "/openapi.json")).status).toBe(200);
  });

  it("without SECRET_ENCRYPTION_KEY refuses to create webhooks (503) but still serves the queries API", async () => {
    const tenant = await createTenant();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const keyless = { SECRET_ENCRYPTION_KEY: undefined };
    const created = await apiWithEnv(keyless, "/api/v1/webhooks", { method: "POST", key: tenant.key, json: webhookBody() });
    expect((await expectError(created, 503, "misconfigured")).message).toContain("SECRET_ENCRYPTION_KEY");
    expect((await apiWithEnv(keyless, "/api/v1/queries", { key: tenant.key })).status).toBe(200);
    expect((await apiWithEnv(keyless, "/api/v1/webhooks", { key: tenant.key })).status).toBe(200);
  });

  it("retries a queue batch under a missing SECRET_ENCRYPTION_KEY instead of failing its deliveries", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    const log = vi.spyOn(console, "error").mockImplementation(() => {});

    const result = await consume([job(webhook.id, deliveryId)], { SECRET_ENCRYPTION_KEY: undefined });

    expect(result.retryBatch.retry).toBe(true);
    expect(result.explicitAcks).toEqual([]);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "pending", attempts: 0 });
    expect(await receiver.requests(key)).toHaveLength(0);
    expect(misconfiguredLines(log).some((line) => line.includes("SECRET_ENCRYPTION_KEY"))).toBe(true);

    // Once the key is back, the same job delivers.
    const fixed = await consume([job(webhook.id, deliveryId)]);
    expect(fixed.explicitAcks).toEqual(["msg-1"]);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "success", attempts: 1 });
  });

  it("retries a queue batch under a var that does not parse", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    vi.spyOn(console, "error").mockImplementation(() => {});
    const result = await consume([job(webhook.id, deliveryId)], { SLOW_ATTEMPT_MS: "fast" });
    expect(result.retryBatch.retry).toBe(true);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "pending", attempts: 0 });
  });

  it("skips the cron run and logs why", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), { ...env, SWEEP_GRACE_SECONDS: "-5" }, ctx);
    await waitOnExecutionContext(ctx);
    expect(misconfiguredLines(log).map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ where: "scheduled", variables: ["SWEEP_GRACE_SECONDS"] }),
    );
  });
});
