import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  consume,
  deliveryDetail,
  exampleData,
  insertDelivery,
  job,
  makeDue,
  published,
  receivedAtLeast,
  receiverWebhook,
  storedDelivery,
} from "../helpers/delivery";
import { api, createTenant, receiver, uniqueKey } from "../helpers/harness";

const SVIX_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

describe("per-webhook retry schedules", () => {
  it("waits as the webhook's schedule says, and fails after its last entry", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "500", { retry_schedule_seconds: [5, 300] });
    const { deliveryId } = await insertDelivery(tenant, webhook.id);

    const delays: number[][] = [];
    for (let i = 0; i < 3; i++) {
      delays.push((await consume([job(webhook.id, deliveryId)])).sent.map((s) => s.delaySeconds!));
      await makeDue(deliveryId);
    }
    expect(delays).toEqual([[5], [300], []]);
    expect(await deliveryDetail(tenant, webhook.id, deliveryId)).toMatchObject({ status: "failed", attempts: 3 });
  });

  it("a wait longer than the queue's 12-hour delay: D1 holds the due time, and the early job is sent on for the rest", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500", { retry_schedule_seconds: [86_400] });
    const { deliveryId } = await insertDelivery(tenant, webhook.id);

    const first = await consume([job(webhook.id, deliveryId)]);
    expect(first.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 1 }, delaySeconds: 43_200 }]);
    const dueAt = (await storedDelivery(deliveryId))!.next_attempt_at as number;
    expect(dueAt).toBeGreaterThan(Date.now() + 86_000_000);

    // Twelve hours later the job arrives with half the wait to go: no attempt, sent on again.
    await env.DB.prepare("UPDATE deliveries SET next_attempt_at = ? WHERE id = ?")
      .bind(Date.now() + 43_200_000, deliveryId)
      .run();
    const early = await consume([{ deliveries: [first.sent[0].ref] }]);
    expect(early.sent).toEqual([{ lane: "fast", ref: { webhookId: webhook.id, deliveryId, attempt: 1 }, delaySeconds: 43_200 }]);
    expect(await receiver.requests(key)).toHaveLength(1);
  });

  it("a 5xx's Retry-After lengthens the wait (capped at an hour), never shortens it", async () => {
    const tenant = await createTenant();
    const cases: Array<[string, number[] | undefined, number]> = [
      ["retry-after-120", undefined, 120], // default schedule waits 1 s; the receiver asks for 2 minutes
      ["retry-after-7200", undefined, 3600], // capped
      ["retry-after-2", [600], 600], // the schedule's wait is longer
    ];
    for (const [respond, schedule, expected] of cases) {
      const webhook = await receiverWebhook(tenant, uniqueKey(), respond, schedule ? { retry_schedule_seconds: schedule } : {});
      const { deliveryId } = await insertDelivery(tenant, webhook.id);
      const { sent } = await consume([job(webhook.id, deliveryId)]);
      expect({ respond, delay: sent[0]?.delaySeconds }).toEqual({ respond, delay: expected });
    }
  });

  it("a stale job (its attempt was made by another job, which sent its own retry) does nothing", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "500");
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    await consume([{ deliveries: [{ webhookId: webhook.id, deliveryId, attempt: 0 }] }]);
    await makeDue(deliveryId);
    const stale = await consume([{ deliveries: [{ webhookId: webhook.id, deliveryId, attempt: 0 }] }]);
    expect(stale.sent).toEqual([]);
    expect(stale.explicitAcks).toEqual(["msg-1"]);
    expect(await receiver.requests(key)).toHaveLength(1);
  });
});

describe("rate_limit_per_second", () => {
  it("sends the excess later, at the webhook's rate, and drops nothing", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "200", { rate_limit_per_second: 2 });
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await insertDelivery(tenant, webhook.id)).deliveryId);
    // A sweep grace of 1 ms: every waiting row is one the sweep would otherwise take for lost.
    const result = await consume([job(webhook.id, ...ids)], { SWEEP_GRACE_SECONDS: "0.001" });
    // Slots every 500 ms from now: the first goes at once, the other five wait for theirs.
    const waiting = result.sent.map((s) => s.delaySeconds);
    expect(waiting).toEqual([1, 1, 2, 2, 3]);
    expect(result.sent.every((s) => typeof s.ref.slot === "number")).toBe(true);
    const attempted = await Promise.all(ids.map(async (id) => (await storedDelivery(id))!.attempts));
    expect(attempted).toEqual([1, 0, 0, 0, 0, 0]);
    // Each waiting row takes its slot as due time, so the outbox sweep does not take its job for lost;
    // with the default grace (120 s) a slot seconds away needs no write.
    for (const { ref } of result.sent) expect((await storedDelivery(ref.deliveryId))!.next_attempt_at).toBe(ref.slot);

    // A job arriving at its slot is attempted without claiming another.
    const slotted = result.sent[0].ref;
    await env.DB.prepare("UPDATE webhooks SET rate_next_at = rate_next_at + 60000 WHERE id = ?").bind(webhook.id).run();
    const later = await consume([{ deliveries: [{ ...slotted, slot: Date.now() - 1 }] }]);
    expect(later.sent).toEqual([]);
    expect((await storedDelivery(slotted.deliveryId))!.attempts).toBe(1);
  });

  it("end to end: six events to a webhook limited to 2 per second arrive spread over at least 2 s", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    await receiverWebhook(tenant, key, "200", { rate_limit_per_second: 2 });
    for (let i = 0; i < 6; i++) await published(tenant, "query.created");
    const requests = await receivedAtLeast(key, 6);
    expect(requests).toHaveLength(6);
    expect(requests[5].received_at - requests[0].received_at).toBeGreaterThanOrEqual(2000);
  });
});

describe("bounded memory", () => {
  it("a batch loads at most 8 MiB of event data; the rest of its deliveries go to a new job", async () => {
    const tenant = await createTenant();
    const key = uniqueKey();
    const webhook = await receiverWebhook(tenant, key, "200");
    const notes = "x".repeat(250_000);
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push((await insertDelivery(tenant, webhook.id, { data: { ...exampleData("query.created"), notes } })).deliveryId);

    const result = await consume(ids.map((id) => job(webhook.id, id)));
    const attempted = (await Promise.all(ids.map(async (id) => (await storedDelivery(id))!.attempts))).filter((n) => n === 1).length;
    expect(attempted).toBe(33); // 8 MiB / 250 KB of data each
    expect(result.sent.map((s) => s.delaySeconds)).toEqual(Array(7).fill(0));
    expect(await receiver.requests(key)).toHaveLength(33);
  });
});

describe("retry schedule on the API", () => {
  it("accepts Svix's schedule and shows it; PUT null restores the guide's default", async () => {
    const tenant = await createTenant();
    const webhook = await receiverWebhook(tenant, uniqueKey(), "200", { retry_schedule_seconds: SVIX_SCHEDULE });
    expect(webhook.retry_schedule_seconds).toEqual(SVIX_SCHEDULE);
    const res = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { retry_schedule_seconds: null } });
    expect(((await res.json()) as { retry_schedule_seconds: number[] }).retry_schedule_seconds).toEqual([1, 2]);
  });
});
