import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { classifyAttempt, deliveryVerdict } from "../../src/delivery/retry-policy";
import { defaultRetrySchedule, GUIDE_DELIVERY_POLICY } from "../../src/env";
import {
  consume,
  deliveryDetail,
  exampleData,
  finishedDelivery,
  finishedHurrying,
  insertDelivery,
  job,
  makeDue,
  published,
  receiverWebhook,
  setDueAt,
  storedDelivery,
  webhookView,
} from "../helpers/delivery";
import { createTenant, GUIDE_TIMESTAMP, receiver, uniqueKey } from "../helpers/harness";

const RESPONSE = (key: string) => JSON.stringify({ status: "received", key });

/**
 * A webhook on a fresh receiver key, one event published to it, and its finished delivery; with
 * `hurried`, its retries are made at once (finishedHurrying) rather than after their delays, which
 * the hand-made batches below assert and the guide's timeline waits out.
 */
async function deliverThrough(respond: string, hurried = false) {
  const tenant = await createTenant();
  const key = uniqueKey();
  const webhook = await receiverWebhook(tenant, key, respond);
  await published(tenant, "query.created");
  if (hurried) await finishedHurrying(webhook.id);
  const delivery = await finishedDelivery(tenant, webhook.id);
  return { tenant, key, webhook, delivery, requests: await receiver.requests(key), counters: await webhookView(tenant, webhook.id) };
}

describe("retry rules, through the real queue and receiver", () => {
  it("500 then 200: retried once, then success with 2 attempts", async () => {
    const { key, delivery, requests, counters } = await deliverThrough("500,200", true);
    expect(delivery).toMatchObject({
      status: "success",
      attempts: 2,
      last_status_code: 200,
      last_error: null,
      last_response_excerpt: RESPONSE(key),
      next_retry_at: null,
    });
    expect(delivery.finished_at).toMatch(GUIDE_TIMESTAMP);
    expect(delivery.attempt_log.map(({ attempt, status_code, error }) => ({ attempt, status_code, error }))).toEqual([
      { attempt: 1, status_code: 500, error: "HTTP 500" },
      { attempt: 2, status_code: 200, error: null },
    ]);
    expect(requests).toHaveLength(2);
    expect([counters.delivery_count, counters.failure_count]).toEqual([1, 0]);
  });

  it("404: failed after 1 attempt, not retried", async () => {
    const { delivery, requests, counters } = await deliverThrough("404,200");
    expect(delivery).toMatchObject({ status: "failed", attempts: 1, last_status_code: 404, last_error: "HTTP 404", next_retry_at: null });
    expect(delivery.attempt_log).toHaveLength(1);
    expect(requests).toHaveLength(1);
    expect([counters.delivery_count, counters.failure_count]).toEqual([1, 1]);
  });

  it("302 redirect: failed after 1 attempt, not retried, not followed", async () => {
    const { key, delivery, requests, counters } = await deliverThrough("redirect,200");
    expect(delivery).toMatchObject({ status: "failed", attempts: 1, last_status_code: 302, last_error: "Redirect (302) not followed" });
    expect(requests).toHaveLength(1);
    expect(await receiver.requests(`${key}-redirected`)).toEqual([]);
    expect([counters.delivery_count, counters.failure_count]).toEqual([1, 1]);
  });

  it("timeout (receiver hangs past DELIVERY_TIMEOUT_MS=3000): retried, then success", async () => {
    const { delivery, requests } = await deliverThrough("hang,200", true);
    expect(delivery).toMatchObject({ status: "success", attempts: 2, last_status_code: 200 });
    expect(delivery.attempt_log[0]).toMatchObject({ attempt: 1, status_code: null, error: "Timed out after 3000 ms", response_excerpt: null });
    expect(delivery.attempt_log[0].response_time_ms).toBeGreaterThanOrEqual(3000);
    expect(requests).toHaveLength(2);
  });

  it("connection dropped: retried, then success", async () => {
    const { delivery, requests } = await deliverThrough("close,200", true);
    expect(delivery).toMatchObject({ status: "success", attempts: 2, last_status_code: 200 });
    expect(delivery.attempt_log[0]).toMatchObject({ attempt: 1, status_code: null, response_excerpt: null });
    expect(delivery.attempt_log[0].error).toMatch(/^Connection failed: \S/);
    expect(requests).toHaveLength(2);
  });

  // The guide's retry schedule end to end, its 1 s and 2 s waited out (the other tests hurry their retries).
  it("the guide's timeline: 500, timeout, 503 → failed after 3 attempts", async () => {
    const { delivery, requests, counters } = await deliverThrough("500,hang,503");
    expect(delivery.attempt_log.map(({ status_code, error }) => ({ status_code, error }))).toEqual([
      { status_code: 500, error: "HTTP 500" },
      { status_code: null, error: "Timed out after 3000 ms" },
      { status_code: 503, error: "HTTP 503" },
    ]);
    expect(delivery).toMatchObject({ status: "failed", attempts: 3, last_status_code: 503 });
    expect(requests).toHaveLength(3);
    expect([counters.delivery_count, counters.failure_count]).toEqual([1, 1]);
  });
});

describe("the consumer, on hand-made batches", () => {
  /** A webhook on a fresh receiver key and one pending delivery row for it (no job in the real queue). */
  async function pendingDelivery(respond: string, row: Parameters<typeof insertDelivery>[2] = {}) {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, respond);
    const { deliveryId } = await insertDelivery(tenant, webhook.id, row);
    return { tenant, key, webhook, deliveryId };
  }

  it("sends each retry as its own job delayed 1 s after attempt 1 and 2 s after attempt 2; acks every message; failed after the 3rd", async () => {
    const { tenant, key, webhook, deliveryId } = await pendingDelivery("500");

    const first = await consume([job(webhook.id, deliveryId)]);
    expect(first.explicitAcks).toEqual(["msg-1"]);
    expect(first.retryMessages).toEqual([]);
    expect(first.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 1 }, delaySeconds: 1 }]);
    const afterFirst = await deliveryDetail(tenant, webhook.id, deliveryId);
    expect(afterFirst).toMatchObject({ status: "pending", attempts: 1, last_status_code: 500 });
    expect(afterFirst.next_retry_at).toMatch(GUIDE_TIMESTAMP);

    await makeDue(deliveryId);
    const second = await consume([{ deliveries: [first.sent[0].ref] }]);
    expect(second.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 2 }, delaySeconds: 2 }]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "pending", attempts: 2 });

    await makeDue(deliveryId);
    const third = await consume([{ deliveries: [second.sent[0].ref] }]);
    expect(third.sent).toEqual([]);
    expect(third.explicitAcks).toEqual(["msg-1"]);
    const failed = await deliveryDetail(tenant, webhook.id, deliveryId);
    expect(failed).toMatchObject({ status: "failed", attempts: 3, last_status_code: 500, last_error: "HTTP 500", next_retry_at: null });
    expect(failed.attempt_log.map(({ attempt, status_code, error }) => ({ attempt, status_code, error }))).toEqual([
      { attempt: 1, status_code: 500, error: "HTTP 500" },
      { attempt: 2, status_code: 500, error: "HTTP 500" },
      { attempt: 3, status_code: 500, error: "HTTP 500" },
    ]);
    for (const attempt of failed.attempt_log) expect(attempt.attempted_at).toMatch(GUIDE_TIMESTAMP);
    const requests = await receiver.requests(key);
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([deliveryId]));
    const counters = await webhookView(tenant, webhook.id);
    expect([counters.delivery_count, counters.failure_count]).toEqual([1, 1]);
  });

  it("stores the retry as due its delay after the failed attempt ended", async () => {
    const { deliveryId, webhook } = await pendingDelivery("500");
    await consume([job(webhook.id, deliveryId)]);
    const row = (await storedDelivery(deliveryId))!;
    const [attempt] = JSON.parse(row.attempt_log as string) as { attempted_at: string; response_time_ms: number }[];
    const attemptedAt = Date.parse(attempt.attempted_at);
    // attempted_at is rendered to the second; the stored due time is exact.
    expect(row.next_attempt_at as number).toBeGreaterThanOrEqual(attemptedAt + 1000 + Math.round(attempt.response_time_ms));
    expect(row.next_attempt_at as number).toBeLessThan(attemptedAt + 2000 + Math.round(attempt.response_time_ms));
  });

  it("acks a 2xx as success and a 4xx or 3xx as failed, after one attempt each", async () => {
    for (const [respond, status] of [
      ["200", "success"],
      ["204", "success"],
      ["299", "success"],
      ["400", "failed"],
      ["401", "failed"],
      ["410", "failed"],
      ["422", "failed"],
      ["429", "failed"],
      ["301", "failed"],
      ["308", "failed"],
    ] as const) {
      const { tenant, key, webhook, deliveryId } = await pendingDelivery(respond);
      const result = await consume([job(webhook.id, deliveryId)]);
      expect({ respond, acks: result.explicitAcks, sent: result.sent }).toEqual({ respond, acks: ["msg-1"], sent: [] });
      expect(await deliveryDetail(tenant, webhook.id, deliveryId), respond).toMatchObject({ status, attempts: 1, last_status_code: Number(respond) });
      expect(await receiver.requests(key)).toHaveLength(1);
    }
  });

  it("a job that arrives early does not attempt, and waits for the remaining time", async () => {
    const { tenant, key, webhook, deliveryId } = await pendingDelivery("200");
    const dueAt = Date.now() + 30_000;
    await setDueAt(deliveryId, dueAt);
    const consumedAt = Date.now();
    const result = await consume([job(webhook.id, deliveryId)]);
    expect(result.explicitAcks).toEqual(["msg-1"]);
    expect(result.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 0 }, delaySeconds: expect.any(Number) }]);
    // The time left when the consumer looked, in whole seconds rounded up: 30 unless this machine was slow.
    const { delaySeconds } = result.sent[0];
    expect(delaySeconds).toBeLessThanOrEqual(Math.ceil((dueAt - consumedAt) / 1000));
    expect(delaySeconds).toBeGreaterThan(20);
    expect(await receiver.requests(key)).toEqual([]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "pending", attempts: 0 });
  });

  it("a job up to 500 ms early attempts", async () => {
    const { tenant, webhook, deliveryId } = await pendingDelivery("200");
    await setDueAt(deliveryId, Date.now() + 300);
    const result = await consume([job(webhook.id, deliveryId)]);
    expect(result.explicitAcks).toEqual(["msg-1"]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "success", attempts: 1 });
  });

  it("a job for an unknown delivery is acked", async () => {
    const { webhook } = await pendingDelivery("200");
    const result = await consume([job(webhook.id, "01a00000-0000-7000-8000-000000000000")]);
    expect(result.explicitAcks).toEqual(["msg-1"]);
  });

  it("a pending delivery whose webhook is no longer active is cancelled, not sent", async () => {
    const { tenant, key, webhook, deliveryId } = await pendingDelivery("200");
    // Deactivated behind the API's back, so the row is still pending.
    await env.DB.prepare("UPDATE webhooks SET is_active = 0 WHERE id = ?").bind(webhook.id).run();
    const result = await consume([job(webhook.id, deliveryId)]);
    expect(result.explicitAcks).toEqual(["msg-1"]);
    expect(await receiver.requests(key)).toEqual([]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({
      status: "cancelled",
      attempts: 0,
      last_error: "webhook deleted or deactivated",
    });
  });

  it("an event whose body cannot be built fails alone; the rest of the batch is delivered", async () => {
    const tenant = await createTenant();
    const [poisonKey, okKey] = [uniqueKey(), uniqueKey()];
    const poisoned = await receiverWebhook(tenant, poisonKey);
    const healthy = await receiverWebhook(tenant, okKey);
    // Nested deeper than canonicalJson's recursion can go (stored by hand: publish refuses it).
    const deep = JSON.parse(`${"[".repeat(5_000)}${"]".repeat(5_000)}`);
    const poison = await insertDelivery(tenant, poisoned.id, { data: { ...exampleData("query.created"), deep } });
    const fine = await insertDelivery(tenant, healthy.id);

    const result = await consume([job(poisoned.id, poison.deliveryId), job(healthy.id, fine.deliveryId)]);

    expect(result.explicitAcks).toEqual(["msg-1", "msg-2"]);
    expect(await deliveryDetail(tenant, healthy.id, fine.deliveryId)).toMatchObject({ status: "success", attempts: 1 });
    expect(await receiver.requests(okKey)).toHaveLength(1);
    const failed = await deliveryDetail(tenant, poisoned.id, poison.deliveryId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, last_status_code: null });
    expect(failed.last_error).toMatch(/^Payload cannot be serialised: /);
    expect(await receiver.requests(poisonKey)).toEqual([]);
    expect(await webhookView(tenant, poisoned.id)).toMatchObject({ delivery_count: 1, failure_count: 1 });
  });

  it("when D1 fails to record the outcome, nothing is acked (the whole batch is retried)", async () => {
    const { tenant, webhook, deliveryId } = await pendingDelivery("200");
    const failingBatch = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") return () => Promise.reject(new Error("D1 is down"));
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await expect(consume([job(webhook.id, deliveryId)], { DB: failingBatch })).rejects.toThrow("D1 is down");
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "pending", attempts: 0 });
  });
});

describe("idempotent redelivery", () => {
  it("a job for a finished delivery does nothing: no request, log and counters unchanged", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200");
    await published(tenant, "query.created");
    const delivery = await finishedDelivery(tenant, webhook.id);
    const counters = await webhookView(tenant, webhook.id);

    const result = await consume([job(webhook.id, delivery.id)]);

    expect(result.explicitAcks).toEqual(["msg-1"]);
    expect(result.retryMessages).toEqual([]);
    expect(await receiver.requests(key)).toHaveLength(1);
    expect(await deliveryDetail(tenant, webhook.id, delivery.id)).toEqual(delivery);
    expect(await webhookView(tenant, webhook.id)).toEqual(counters);
    expect([counters.delivery_count, counters.failure_count]).toEqual([1, 0]);
  });

  it("duplicate jobs for one delivery in one batch make one attempt and one retry job", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500,200");
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    const duplicate = job(webhook.id, deliveryId, deliveryId);

    const failed = await consume([duplicate, duplicate, job(webhook.id, deliveryId)]);
    expect(await receiver.requests(key)).toHaveLength(1);
    expect(failed.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 1 }, delaySeconds: 1 }]);
    expect(failed.explicitAcks).toEqual(["msg-1", "msg-2", "msg-3"]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "pending", attempts: 1 });

    await makeDue(deliveryId);
    const succeeded = await consume([duplicate, duplicate]);
    expect(await receiver.requests(key)).toHaveLength(2);
    expect(succeeded.explicitAcks).toEqual(["msg-1", "msg-2"]);
    const delivery = await deliveryDetail(tenant, webhook.id, deliveryId);
    expect(delivery).toMatchObject({ status: "success", attempts: 2 });
    expect(delivery.attempt_log).toHaveLength(2);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
  });

  it("duplicate batches consumed concurrently record one attempt and count the delivery once", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200");
    const { deliveryId } = await insertDelivery(tenant, webhook.id);

    await Promise.all([consume([job(webhook.id, deliveryId)]), consume([job(webhook.id, deliveryId)])]);

    const delivery = await deliveryDetail(tenant, webhook.id, deliveryId);
    expect(delivery).toMatchObject({ status: "success", attempts: 1 });
    expect(delivery.attempt_log).toHaveLength(1);
    expect(await webhookView(tenant, webhook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
    // Both batches may have sent before either recorded (at-least-once): the receiver dedupes on webhook-id.
    const requests = await receiver.requests(key);
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([deliveryId]));
  });
});

describe("retry policy", () => {
  it("classifies as the guide says: 2xx success; 5xx and no response retryable; 3xx and 4xx permanent", () => {
    const classes = [200, 201, 299, 300, 302, 308, 400, 404, 429, 499, 500, 502, 503, 599, null].map((code) => [code, classifyAttempt(code)]);
    expect(Object.fromEntries(classes)).toEqual({
      200: "success",
      201: "success",
      299: "success",
      300: "permanent",
      302: "permanent",
      308: "permanent",
      400: "permanent",
      404: "permanent",
      429: "permanent",
      499: "permanent",
      500: "retryable",
      502: "retryable",
      503: "retryable",
      599: "retryable",
      null: "retryable",
    });
  });

  it("defaults to the guide's 3 attempts, 1 s then 2 s, 10 s per attempt; bad overrides are refused by name, not replaced", () => {
    expect(parseConfig({})).toMatchObject({ ok: true, config: { delivery: { maxAttempts: 3, backoffBaseSeconds: 1, timeoutMs: 10_000 } } });
    expect(GUIDE_DELIVERY_POLICY).toEqual({ maxAttempts: 3, backoffBaseSeconds: 1, timeoutMs: 10_000 });
    const bad = parseConfig({ DELIVERY_MAX_ATTEMPTS: "0", DELIVERY_BACKOFF_BASE_SECONDS: "-1", DELIVERY_TIMEOUT_MS: "soon" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.variables).toEqual(["DELIVERY_MAX_ATTEMPTS", "DELIVERY_BACKOFF_BASE_SECONDS", "DELIVERY_TIMEOUT_MS"]);
    const policy = GUIDE_DELIVERY_POLICY;
    expect(defaultRetrySchedule(policy)).toEqual([1, 2]);
    expect([1, 2, 3].map((n) => deliveryVerdict(defaultRetrySchedule(policy), { class: "retryable" }, n))).toEqual([
      { status: "pending", retryInSeconds: 1 },
      { status: "pending", retryInSeconds: 2 },
      { status: "failed" },
    ]);
  });

  it("is configurable: DELIVERY_MAX_ATTEMPTS and DELIVERY_BACKOFF_BASE_SECONDS", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500");
    const overrides = { DELIVERY_MAX_ATTEMPTS: "4", DELIVERY_BACKOFF_BASE_SECONDS: "5" };
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    const jobs = [job(webhook.id, deliveryId)];

    const delays: unknown[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const result = await consume(jobs, overrides);
      delays.push(result.sent.map((s) => s.delaySeconds));
      await makeDue(deliveryId);
    }
    expect(delays).toEqual([[5], [10], [20], []]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "failed", attempts: 4 });
    expect(await receiver.requests(key)).toHaveLength(4);

    const once = await insertDelivery(tenant, webhook.id);
    const result = await consume([job(webhook.id, once.deliveryId)], { DELIVERY_MAX_ATTEMPTS: "1" });
    expect(result.explicitAcks).toEqual(["msg-1"]);
    expect(await deliveryDetail(tenant, webhook.id, once.deliveryId)).toMatchObject({ status: "failed", attempts: 1 });
  });

  it("detaches attempts past SLOW_ATTEMPT_MS and starts no more: the rest go to new jobs, the detached are recorded when they end", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const jobs = [];
    for (let i = 0; i < 8; i++) {
      const webhook = await receiverWebhook(tenant, key, "hang");
      jobs.push(job(webhook.id, (await insertDelivery(tenant, webhook.id)).deliveryId));
    }
    // Six attempts start at once and hang for DELIVERY_TIMEOUT_MS (3 s), past the 1 s budget.
    const result = await consume(jobs, { CONSUMER_ATTEMPT_BUDGET_SECONDS: "1" });

    // getQueueResult waits for the detached attempts too: each is recorded when it times out.
    const attempts = await Promise.all(jobs.map(async (j) => (await storedDelivery(j.deliveries[0].deliveryId))!.attempts));
    expect(attempts).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(await receiver.requests(key)).toHaveLength(6);
    expect(result.explicitAcks).toEqual(["msg-1", "msg-2", "msg-3", "msg-4", "msg-5", "msg-6", "msg-7", "msg-8"]);
    const [, , , , , , seventh, eighth] = jobs.map((j) => j.deliveries[0]);
    const retries = (hookId: string) => result.sent.filter((s) => s.ref.webhookId === hookId && s.ref.attempt === 1);
    // The two never attempted are handed to new jobs at once; the six timed out retry on the slow lane.
    expect(result.sent.filter((s) => s.ref.attempt === 0)).toEqual([
      { lane: "fast", ref: { ...seventh, attempt: 0 }, delaySeconds: 0 },
      { lane: "fast", ref: { ...eighth, attempt: 0 }, delaySeconds: 0 },
    ]);
    for (const j of jobs.slice(0, 6)) expect(retries(j.deliveries[0].webhookId).map((s) => s.lane)).toEqual(["slow"]);
  });

  it("is configurable: DELIVERY_TIMEOUT_MS", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "hang");
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    const result = await consume([job(webhook.id, deliveryId)], { DELIVERY_TIMEOUT_MS: "200" });
    expect(result.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 1 }, delaySeconds: 1 }]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status_code: null,
      last_error: "Timed out after 200 ms",
    });
  });
});
