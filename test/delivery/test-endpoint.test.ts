import { env } from "cloudflare:test";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/delivery/canonical-json";
import { deliveryDetail, deliveryLog, receiverWebhook, webhookView } from "../helpers/delivery";
import { api, createTenant, createWebhook, expectError, GUIDE_TIMESTAMP, receiver, type Tenant, UUID, uniqueKey, webhookBody } from "../helpers/harness";

interface TestResult {
  success: boolean;
  status_code: number | null;
  response_time_ms: number;
  error: string | null;
  delivery_id: string;
}

async function testWebhook(tenant: Tenant, webhookId: string): Promise<TestResult> {
  const res = await api(`/api/v1/webhooks/${webhookId}/test`, { method: "POST", key: tenant.key });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as TestResult;
}

describe("POST /api/v1/webhooks/{id}/test", () => {
  it("sends one signed webhook.test event and answers the guide's result", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);

    const result = await testWebhook(tenant, webhook.id);

    expect(Object.keys(result).sort()).toEqual(["delivery_id", "error", "response_time_ms", "status_code", "success"]);
    expect(result).toMatchObject({ success: true, status_code: 200, error: null });
    expect(result.response_time_ms).toBeGreaterThanOrEqual(0);
    expect(result.delivery_id).toMatch(UUID);

    const requests = await receiver.requests(key);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    const body = JSON.parse(request.body);
    expect(body).toEqual({
      event: "webhook.test",
      timestamp: expect.stringMatching(GUIDE_TIMESTAMP),
      webhook_id: webhook.id,
      data: { message: "This is a test event from hr-intel-webhooks", test: true },
    });
    expect(request.body).toBe(canonicalJson(body));
    expect(request.headers["x-webhook-signature"]).toBe(createHmac("sha256", webhook.secret_key).update(request.body).digest("hex"));
    expect(request.headers["x-webhook-id"]).toBe(webhook.id);
    expect(request.headers["webhook-id"]).toBe(result.delivery_id);
    const standard = {
      "webhook-id": request.headers["webhook-id"],
      "webhook-timestamp": request.headers["webhook-timestamp"],
      "webhook-signature": request.headers["webhook-signature"],
    };
    expect(new Webhook(webhook.secret_key, { format: "raw" }).verify(request.body, standard)).toEqual(body);
  });

  it("is logged in the delivery log as event webhook.test, and counted", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey());
    const result = await testWebhook(tenant, webhook.id);

    const log = await deliveryLog(tenant, webhook.id, "?event=webhook.test");
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id: result.delivery_id, event: "webhook.test", status: "success", attempts: 1, last_status_code: 200, next_retry_at: null });
    const detail = await deliveryDetail(tenant, webhook.id, result.delivery_id);
    expect(detail.attempt_log).toEqual([expect.objectContaining({ attempt: 1, status_code: 200, error: null, response_time_ms: result.response_time_ms })]);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
  });

  it("500: success false with status_code 500, not retried, logged as failed", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,200");

    const result = await testWebhook(tenant, webhook.id);

    expect(result).toMatchObject({ success: false, status_code: 500, error: "HTTP 500" });
    expect(await receiver.requests(key)).toHaveLength(1);
    const [logged] = await deliveryLog(tenant, webhook.id);
    expect(logged).toMatchObject({
      id: result.delivery_id,
      event: "webhook.test",
      status: "failed",
      attempts: 1,
      last_status_code: 500,
      last_error: "HTTP 500",
      next_retry_at: null,
    });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 1 });
  });

  it("unreachable receiver: status_code null and a readable error", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ url: "http://localhost:1/", events: ["query.created"] }));

    const result = await testWebhook(tenant, webhook.id);

    expect(result).toMatchObject({ success: false, status_code: null });
    expect(result.error).toMatch(/^Connection failed: \S.*/);
    const [logged] = await deliveryLog(tenant, webhook.id);
    expect(logged).toMatchObject({ id: result.delivery_id, status: "failed", last_status_code: null, last_error: result.error });
  });

  it("hanging receiver: times out after DELIVERY_TIMEOUT_MS, and the endpoint takes the slow lane as after a queued attempt", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "hang");
    const result = await testWebhook(tenant, webhook.id);
    expect(result).toMatchObject({ success: false, status_code: null, error: "Timed out after 3000 ms" });
    expect(result.response_time_ms).toBeGreaterThanOrEqual(3000);
    // Before the shared step, a test outcome carried no slow flag, and its health update cleared slow_until.
    const row = await env.DB.prepare("SELECT slow_until FROM webhooks WHERE id = ?").bind(webhook.id).first<{ slow_until: number | null }>();
    expect(row?.slow_until).toBeGreaterThan(Date.now());
  });

  it("redirect: success false with the 3xx, not followed", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "redirect");
    const result = await testWebhook(tenant, webhook.id);
    expect(result).toMatchObject({ success: false, status_code: 302, error: "Redirect (302) not followed" });
    expect(await receiver.requests(`${key}-redirected`)).toEqual([]);
  });

  // The test endpoint takes the consumer's delivery step (src/delivery/step.ts), so what refuses
  // a queued delivery before its request refuses a test too: a failed, logged, counted delivery.
  it("a stored URL the URL policy refuses: no request, success false with the reason, logged and counted as failed", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    const withCredentials = receiver.url(key).replace("://", "://user:pass@");
    await env.DB.prepare("UPDATE webhooks SET url = ? WHERE id = ?").bind(withCredentials, webhook.id).run();

    const result = await testWebhook(tenant, webhook.id);

    expect(result).toMatchObject({ success: false, status_code: null, error: "Webhook URL refused: URL must not contain credentials (user:password@)" });
    expect(await receiver.requests(key)).toEqual([]);
    const [logged] = await deliveryLog(tenant, webhook.id);
    expect(logged).toMatchObject({
      id: result.delivery_id,
      status: "failed",
      attempts: 1,
      last_status_code: null,
      last_error: result.error,
      next_retry_at: null,
    });
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 1 });
  });

  it("a secret that cannot be decrypted: no request, success false, logged as failed (not a 500 leaving a pending delivery)", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    await env.DB.prepare("UPDATE webhooks SET secret_encrypted = ? WHERE id = ?").bind("k1:unknown-key:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", webhook.id).run();

    const result = await testWebhook(tenant, webhook.id);

    expect(result).toMatchObject({ success: false, status_code: null, error: expect.stringMatching(/^Signing secret cannot be decrypted/) });
    expect(await receiver.requests(key)).toEqual([]);
    const [logged] = await deliveryLog(tenant, webhook.id);
    expect(logged).toMatchObject({ id: result.delivery_id, status: "failed", attempts: 1, last_error: result.error });
  });

  it("answers 404 for an unknown, malformed or deleted webhook, and 401 without a key", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key);
    expect((await api(`/api/v1/webhooks/${webhook.id}`, { method: "DELETE", key: tenant.key })).status).toBe(204);
    for (const id of ["00000000-0000-4000-8000-000000000000", "not-a-uuid", webhook.id]) {
      await expectError(await api(`/api/v1/webhooks/${id}/test`, { method: "POST", key: tenant.key }), 404, "not_found");
    }
    await expectError(await api(`/api/v1/webhooks/${webhook.id}/test`, { method: "POST" }), 401, "unauthorized");
    expect(await receiver.requests(key)).toEqual([]);
  });
});
